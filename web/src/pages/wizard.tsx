import { useMutation, useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { z } from 'zod';
import {
  catalogPatchesResponse, clientsResponse, devicesResponse, installViewResponse, patchManagementPreviewResponse, schedulesResponse, sitesResponse, startedResponse,
  type PatchManagementPreview,
} from '../../../api/dashboard-schemas';
import { patchActionsSchema } from '../../../api/policy-schemas';
import { startInstallSchema } from '../../../api/operator-schemas';
import { createScheduleSchema } from '../../../api/schedule-schemas';
import { offeredActions, type WizardAction } from '../../../domain/patch-management';
import type { PatchStatus } from '../../../domain/patch-status';
import { getJson, sendJson } from '../api';
import { Link } from '../router';
import { Badge, Card, Empty, ErrorBox, Loading, PageHead } from '../ui';
import { DeviceSummary, usePatchStatusCounts } from './approvals';

const STEPS = ['1. Patches', '2. Action', '3. Entity', '4. Schedule', '5. Apply'];

const ACTIONS: { value: WizardAction; label: string; desc: string }[] = [
  { value: 'inherit', label: 'Inherit', desc: 'Clear the action here: the level above decides.' },
  { value: 'approve', label: 'Approve', desc: 'Install at the next run, whatever the policy says.' },
  { value: 'ignore', label: 'Ignore', desc: 'Install by no method until cleared.' },
  { value: 'do_nothing', label: 'Do Nothing', desc: 'No override: the policy decides.' },
  { value: 'reprocess_failed', label: 'Reprocess failed', desc: 'Try a failed install again.' },
  { value: 'uninstall', label: 'Uninstall', desc: 'Remove an installed, uninstallable patch.' },
];

type ScopeType = 'device_type' | 'client' | 'site' | 'device';
type Schedule = 'existing' | 'now' | 'per-patch';
const INSTALLING_ACTIONS: WizardAction[] = ['approve', 'reprocess_failed'];
const actionAnswer = z.object({ action: z.string(), patches: z.number(), changed: z.number() }).loose();

/** One install the wizard started, watched until it ends: its step while it runs, then its outcome. */
function InstallStatus(props: { deviceId: string; workflowId: string }) {
  const key = props.workflowId.split('/')[2];
  const view = useQuery({
    queryKey: ['install', props.workflowId],
    queryFn: () => getJson(`/api/v1/devices/${props.deviceId}/installs/${key}`, installViewResponse),
    refetchInterval: (q) => (!q.state.data || q.state.data.status === 'RUNNING' ? 1_000 : false),
  });
  const v = view.data;
  if (!v) return <span className="muted small">starting…</span>;
  if (v.status === 'RUNNING') return <span className="wf wf-running" data-testid="install-status">running · {v.progress?.step ?? '…'}</span>;
  const outcome = v.result?.outcome ?? v.status.toLowerCase();
  return (
    <span data-testid="install-status" className={`wf ${outcome === 'succeeded' ? 'wf-completed' : 'wf-failed'}`}>
      {outcome.replace('_', ' ')}{v.result?.patches.map((p) => <span key={p.updateId} className="devsum"> <strong>{p.kb}</strong> <Badge status={p.status} /></span>)}
    </span>
  );
}

export function WizardPage() {
  const [step, setStep] = useState(0);
  const [search, setSearch] = useState('');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [action, setAction] = useState<WizardAction | null>(null);
  const [scopeType, setScopeType] = useState<ScopeType>('site');
  const [scopeId, setScopeId] = useState('');
  const [schedule, setSchedule] = useState<Schedule>('existing');
  const [perPatch, setPerPatch] = useState({ name: '', time: '02:00', day: '' });
  const [applied, setApplied] = useState<{ message: string; installs: { deviceId: string; deviceName: string; workflowId?: string; error?: string }[] } | null>(null);

  const patches = useQuery({ queryKey: ['patches-all'], queryFn: () => getJson('/api/v1/patches', catalogPatchesResponse) });
  const counts = usePatchStatusCounts();
  const clients = useQuery({ queryKey: ['clients'], queryFn: () => getJson('/api/v1/clients', clientsResponse) });
  const sites = useQuery({ queryKey: ['sites'], queryFn: () => getJson('/api/v1/sites', sitesResponse) });
  const devices = useQuery({ queryKey: ['devices'], queryFn: () => getJson('/api/v1/devices', devicesResponse) });
  const schedules = useQuery({ queryKey: ['schedules'], queryFn: () => getJson('/api/v1/schedules', schedulesResponse) });

  const countsById = useMemo(() => new Map(counts.data?.patches.map((p) => [p.updateId, p.counts]) ?? []), [counts.data]);
  const chosen = (patches.data?.patches ?? []).filter((p) => selected.has(p.updateId));
  const statusesFound = [...new Set(chosen.flatMap((p) => Object.keys(countsById.get(p.updateId) ?? {})))] as PatchStatus[];
  const offered = new Set(offeredActions(statusesFound, { uninstallable: chosen.length > 0 && chosen.every((p) => p.uninstallable) }));
  const needle = search.trim().toLowerCase();
  const listed = (patches.data?.patches ?? []).filter((p) => !needle || p.kb.toLowerCase().includes(needle) || p.title.toLowerCase().includes(needle));
  const body = action && scopeId ? patchActionsSchema.safeParse({ scopeType, scopeId, updateIds: [...selected], action }) : undefined;

  const preview = useQuery({
    queryKey: ['preview', JSON.stringify(body?.data)], enabled: step === 4 && Boolean(body?.success),
    queryFn: () => sendJson('POST', '/api/v1/patch-management/preview', body!.data, patchManagementPreviewResponse),
  });
  const apply = useMutation({
    mutationFn: async (p: PatchManagementPreview) => {
      const set = await sendJson('PUT', '/api/v1/patch-actions', body!.data, actionAnswer);
      const installs: { deviceId: string; deviceName: string; workflowId?: string; error?: string }[] = [];
      if (schedule === 'now') {
        // "Install now, outside the schedule": an explicit install of the chosen KBs on each device reached.
        for (const d of p.devices) {
          const kbs = [...new Set(d.patches.map((x) => x.kb))];
          try {
            const r = await sendJson('POST', `/api/v1/devices/${d.deviceId}/installs`, startInstallSchema.parse({ kbs }), startedResponse);
            installs.push({ deviceId: d.deviceId, deviceName: d.deviceName, workflowId: r.workflowId });
          } catch (err) {
            installs.push({ deviceId: d.deviceId, deviceName: d.deviceName, error: (err as Error).message });
          }
        }
      }
      const verb = ACTIONS.find((a) => a.value === action)!.label;
      let when = schedule === 'now' ? `; ${installs.filter((i) => i.workflowId).length} install(s) started` : ': it applies at the next scheduled run';
      if (schedule === 'per-patch') {
        // A schedule of its own for these patches: an Automatic Update of only these KBs on this scope.
        const made = await sendJson('POST', '/api/v1/schedules', perPatchBody(), z.object({ id: z.string(), name: z.string(), nextRunTimes: z.array(z.string()) }).loose());
        when = `; schedule "${made.name}" installs them${made.nextRunTimes[0] ? ` next at ${new Date(made.nextRunTimes[0]).toLocaleString()}` : ''}`;
      }
      return { message: `${verb} set for ${set.patches} patch(es) on ${scopeType.replace('_', ' ')} ${scopeName()}${when}`, installs };
    },
    onSuccess: setApplied,
  });

  function perPatchBody() {
    const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    const timing = perPatch.day ? { kind: 'weekly', days: [perPatch.day], time: perPatch.time, timezone } : { kind: 'daily', time: perPatch.time, timezone };
    const kbs = [...new Set(chosen.map((p) => p.kb))];
    // Checked with the API's own schema before it is sent: a bad time or name is named here.
    return createScheduleSchema.parse({
      name: perPatch.name.trim() || `${kbs.join(', ')} · ${scopeName()}`, kind: 'automatic_update',
      scope: { scopeType, scopeId }, timing, kbs,
    });
  }
  const perPatchAllowed = INSTALLING_ACTIONS.includes(action!) && scopeType !== 'device';

  function scopeName(): string {
    if (scopeType === 'device_type') return scopeId;
    if (scopeType === 'client') return clients.data?.clients.find((c) => c.id === scopeId)?.name ?? scopeId;
    if (scopeType === 'site') { const s = sites.data?.sites.find((x) => x.id === scopeId); return s ? `${s.clientName} / ${s.name}` : scopeId; }
    return devices.data?.devices.find((d) => d.id === scopeId)?.name ?? scopeId;
  }

  const perPatchValid = (() => { try { perPatchBody(); return true; } catch { return false; } })();
  const canNext = [selected.size > 0, action !== null && offered.has(action), Boolean(body?.success), schedule !== 'per-patch' || (perPatchAllowed && perPatchValid), false][step];
  const reset = () => { setStep(0); setSelected(new Set()); setAction(null); setScopeId(''); setSchedule('existing'); setPerPatch({ name: '', time: '02:00', day: '' }); setApplied(null); apply.reset(); };

  return (
    <>
      <PageHead title="Patch Management" subtitle="Select patches, choose an action, the entity it applies to and when; see what it reaches, then apply." />
      <div className="wizard-steps">{STEPS.map((s, i) => <div key={s} className={i === step ? 'on' : i < step ? 'done' : ''}>{s}</div>)}</div>
      <Card title={STEPS[step]} testId={`wizard-step-${step + 1}`}>
        {step === 0 && (
          <>
            <div className="toolbar pad"><input aria-label="search patches" placeholder="Search by KB or title" value={search} onChange={(e) => setSearch(e.target.value)} style={{ width: 320 }} /><span className="muted small">{selected.size} selected</span></div>
            {patches.isPending ? <Loading /> : listed.length === 0 ? <Empty>No patch matches.</Empty> : (
              <table className="grid">
                <thead><tr><th /><th>Patch</th><th>Classification</th><th>Severity</th><th>Found on devices</th></tr></thead>
                <tbody>{listed.slice(0, 200).map((p) => (
                  <tr key={p.updateId} className={selected.has(p.updateId) ? 'selected' : ''} data-testid={`wizard-row-${p.kb}`}>
                    <td><input type="checkbox" aria-label={`select ${p.kb}`} checked={selected.has(p.updateId)} onChange={() => { const s = new Set(selected); if (s.has(p.updateId)) s.delete(p.updateId); else s.add(p.updateId); setSelected(s); }} /></td>
                    <td><strong>{p.kb}</strong><div className="muted small">{p.title}</div></td><td>{p.classification}</td><td>{p.severity}</td>
                    <td><DeviceSummary counts={countsById.get(p.updateId)} /></td>
                  </tr>
                ))}</tbody>
              </table>
            )}
          </>
        )}
        {step === 1 && (
          <div className="choice">{ACTIONS.map((a) => {
            const ok = offered.has(a.value);
            return (
              <label key={a.value} className={`${ok ? '' : 'disabled'} ${action === a.value ? 'on' : ''}`} title={ok ? '' : 'no selected patch is in a status this action applies to'}>
                <input type="radio" name="action" value={a.value} disabled={!ok} checked={action === a.value} onChange={() => setAction(a.value)} />
                <span>{a.label}<span className="desc">{ok ? a.desc : 'Not offered: no selected patch is in a status it applies to.'}</span></span>
              </label>
            );
          })}</div>
        )}
        {step === 2 && (
          <div className="form-grid">
            <div className="field"><label htmlFor="w-scope">Entity</label>
              <select id="w-scope" value={scopeType} onChange={(e) => { setScopeType(e.target.value as ScopeType); setScopeId(''); }}>
                <option value="device_type">Device type</option><option value="client">Client</option><option value="site">Site</option><option value="device">Device</option>
              </select></div>
            <div className="field"><label htmlFor="w-scope-id">{{ device_type: 'Device type', client: 'Client', site: 'Site', device: 'Device' }[scopeType]}</label>
              <select id="w-scope-id" value={scopeId} onChange={(e) => setScopeId(e.target.value)}>
                <option value="">choose…</option>
                {scopeType === 'device_type' && <><option value="server">Server</option><option value="workstation">Workstation</option></>}
                {scopeType === 'client' && clients.data?.clients.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
                {scopeType === 'site' && sites.data?.sites.map((s) => <option key={s.id} value={s.id}>{s.clientName} / {s.name}</option>)}
                {scopeType === 'device' && devices.data?.devices.filter((d) => !d.retiredAt).map((d) => <option key={d.id} value={d.id}>{d.name} ({d.clientName} / {d.siteName})</option>)}
              </select></div>
          </div>
        )}
        {step === 3 && (
          <div className="choice">
            <label className={schedule === 'existing' ? 'on' : ''}><input type="radio" name="schedule" checked={schedule === 'existing'} onChange={() => setSchedule('existing')} />
              <span>Use the existing installation schedule<span className="desc">{(schedules.data?.schedules.filter((s) => s.kind === 'automatic_update').map((s) => s.name).join(', ')) || 'No automatic update schedule yet: the action applies to the next install.'}</span></span></label>
            <label className={`${INSTALLING_ACTIONS.includes(action!) ? '' : 'disabled'} ${schedule === 'now' ? 'on' : ''}`}><input type="radio" name="schedule" disabled={!INSTALLING_ACTIONS.includes(action!)} checked={schedule === 'now'} onChange={() => setSchedule('now')} />
              <span>Install now, outside the schedule<span className="desc">{INSTALLING_ACTIONS.includes(action!) ? 'Starts an install of the selected patches on every device reached.' : 'Only for Approve and Reprocess failed.'}</span></span></label>
            <label className={`${perPatchAllowed ? '' : 'disabled'} ${schedule === 'per-patch' ? 'on' : ''}`}><input type="radio" name="schedule" disabled={!perPatchAllowed} checked={schedule === 'per-patch'} onChange={() => setSchedule('per-patch')} />
              <span>A specific schedule for these patches<span className="desc">{perPatchAllowed ? 'An Automatic Update of only these patches on this entity, on its own schedule.' : 'For Approve and Reprocess failed on a device type, client or site.'}</span></span></label>
          </div>
        )}
        {step === 3 && schedule === 'per-patch' && (
          <div className="form-grid">
            <div className="field"><label htmlFor="pp-name">Schedule name</label><input id="pp-name" value={perPatch.name} placeholder={`${chosen.map((p) => p.kb).join(', ')} · ${scopeName()}`} onChange={(e) => setPerPatch({ ...perPatch, name: e.target.value })} /></div>
            <div className="field"><label htmlFor="pp-day">Runs</label>
              <select id="pp-day" value={perPatch.day} onChange={(e) => setPerPatch({ ...perPatch, day: e.target.value })}>
                <option value="">every day</option>{['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => <option key={d} value={d}>every {d}</option>)}
              </select></div>
            <div className="field"><label htmlFor="pp-time">At (local time)</label><input id="pp-time" type="time" value={perPatch.time} onChange={(e) => setPerPatch({ ...perPatch, time: e.target.value })} /></div>
          </div>
        )}
        {step === 4 && (
          <div className="pad">
            {applied ? (
              <div data-testid="applied">
                <div className="notice">{applied.message}</div>
                {applied.installs.length > 0 && (
                  <table className="grid"><thead><tr><th>Device</th><th>Install</th><th>Status</th></tr></thead><tbody>
                    {applied.installs.map((i) => (
                      <tr key={i.deviceId} data-testid="applied-install"><td><Link to={`/devices/${i.deviceId}`}>{i.deviceName}</Link></td>
                        <td className="mono small">{i.workflowId ?? <span className="error">{i.error}</span>}</td>
                        <td>{i.workflowId && <InstallStatus deviceId={i.deviceId} workflowId={i.workflowId} />}</td></tr>
                    ))}
                  </tbody></table>
                )}
              </div>
            ) : preview.isPending ? <Loading /> : preview.error ? <ErrorBox error={preview.error} /> : (
              <div data-testid="preview">
                <p className="reach">{ACTIONS.find((a) => a.value === action)?.label} · {scopeType.replace('_', ' ')} <strong>{scopeName()}</strong> · {schedule === 'now' ? 'install now' : schedule === 'per-patch' ? `its own schedule (${perPatch.day ? `every ${perPatch.day}` : 'every day'} at ${perPatch.time})` : 'existing schedule'}</p>
                <div className={preview.data.deviceCount === 0 ? 'warning' : 'notice'} data-testid="reach">
                  Reaches <strong data-testid="reach-count">{preview.data.deviceCount}</strong> device(s). {preview.data.message}
                </div>
                {preview.data.devices.length > 0 && (
                  <table className="grid"><thead><tr><th>Device</th><th>Client / site</th><th>Patches</th></tr></thead><tbody>
                    {preview.data.devices.map((d) => (
                      <tr key={d.deviceId} data-testid="reach-device"><td><Link to={`/devices/${d.deviceId}`}>{d.deviceName}</Link> <span className="muted small">{d.deviceType}</span></td><td>{d.clientName} / {d.siteName}</td>
                        <td>{d.patches.map((p) => <span key={p.updateId} className="devsum"><strong>{p.kb}</strong> <Badge status={p.status} /></span>)}</td></tr>
                    ))}
                  </tbody></table>
                )}
              </div>
            )}
            <ErrorBox error={apply.error} />
          </div>
        )}
        <div className="wizard-foot">
          <button onClick={() => (applied ? reset() : setStep(Math.max(0, step - 1)))} disabled={step === 0}>{applied ? 'Start over' : 'Back'}</button>
          {step < 4 ? (
            <button className="primary" disabled={!canNext} onClick={() => setStep(step + 1)}>{step === 0 ? 'Proceed' : 'Next'}</button>
          ) : !applied && (
            <button className="primary" disabled={!preview.data || apply.isPending} onClick={() => apply.mutate(preview.data!)}>{apply.isPending ? 'Applying…' : 'Apply'}</button>
          )}
        </div>
      </Card>
    </>
  );
}
