import { createAlertRuleSchema } from '../../api/alert-schemas';

const rule = (webhookUrl: string) => createAlertRuleSchema.safeParse({ name: 'Failed installs', condition: 'patch_failed', webhookUrl });

describe('an alert rule\'s webhook URL', () => {
  it.each([
    // found by the contract fuzz: these threw from the refinement (a 500) instead of being refused
    ['not a url', 'must be an http:// or https:// URL'],
    ['http://', 'must be an http:// or https:// URL'],
    ['ftp://hooks.example.com/x', 'must be an http:// or https:// URL without a user or password in it'],
    ['https://user:secret@hooks.example.com/x', 'must be an http:// or https:// URL without a user or password in it'],
  ])('refuses %j with one message', (url, message) => {
    const r = rule(url);
    expect(r.success ? [] : r.error.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['webhookUrl', message]]);
  });

  it('takes an https URL', () => {
    expect(rule('https://hooks.example.com/patchflow')).toEqual(expect.objectContaining({ success: true }));
  });
});
