import { DeviceIdAttr, DeviceNameAttr, OperationAttr, PatchKBsAttr } from '../../workflows/search-attributes';
import { deviceLabel, deviceWorkflowStart } from '../../api/workflow-starts';

const device = { id: 'd-1', name: 'NORT-WS-09', clientId: 'c-1', clientName: 'Acme', siteId: 's-1', siteName: 'HQ' };

describe('start options of a workflow on one device', () => {
  test('id, queue, input, the summary ending with the device, and the device\'s search attributes', () => {
    const options = deviceWorkflowStart({
      device, operation: 'scan', workflowId: 'scan/d-1/k', taskQueue: 'q', args: [{ deviceId: 'd-1' }], summary: 'Scan', details: 'Requested by bob.',
    });
    expect(options).toEqual({
      workflowId: 'scan/d-1/k', taskQueue: 'q', args: [{ deviceId: 'd-1' }],
      staticSummary: 'Scan NORT-WS-09 · Acme / HQ', staticDetails: 'Requested by bob.',
      typedSearchAttributes: [
        { key: DeviceIdAttr, value: 'd-1' },
        { key: DeviceNameAttr, value: 'NORT-WS-09' },
        expect.objectContaining({ value: 'c-1' }),
        expect.objectContaining({ value: 's-1' }),
        { key: OperationAttr, value: 'scan' },
      ],
    });
  });

  test('KBs become PatchKBs; a conflict policy passes through; no details, no staticDetails', () => {
    const options = deviceWorkflowStart({
      device, operation: 'install', workflowId: 'w', taskQueue: 'q', args: [], summary: 'Install 2 patches on', kbs: ['KB1', 'KB2'], conflictPolicy: 'USE_EXISTING',
    });
    expect(options.typedSearchAttributes).toContainEqual({ key: PatchKBsAttr, value: ['KB1', 'KB2'] });
    expect(options.workflowIdConflictPolicy).toBe('USE_EXISTING');
    expect(options).not.toHaveProperty('staticDetails');
    expect(options.staticSummary).toBe(`Install 2 patches on ${deviceLabel(device)}`);
  });
});
