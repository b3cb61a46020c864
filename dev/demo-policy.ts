import type { Client } from '@temporalio/client';

type Api = (method: string, urlPath: string, body?: unknown) => Promise<any>;

/** An API caller for the demo: JSON in and out, throwing with the API's error text (`fetchImpl`: the one that pins the dev certificate). */
export function demoApi(apiUrl: string, apiKey: string, fetchImpl: typeof fetch = fetch): Api {
  return async (method, urlPath, body) => {
    const res = await fetchImpl(`${apiUrl}${urlPath}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as { error?: string };
    if (!res.ok) throw new Error(`${method} ${urlPath}: ${res.status} ${json.error}`);
    return json;
  };
}

/**
 * The demo's approval policies, one per device type, with the new-policy defaults (security and
 * critical updates Approved, service packs Denied, everything else Pending Approval). Created once.
 */
export async function ensureDemoPolicies(api: Api): Promise<string[]> {
  const { policies } = (await api('GET', '/api/v1/policies')) as { policies: { id: string; name: string }[] };
  const ids: string[] = [];
  for (const [name, deviceType] of [['Demo - Servers', 'server'], ['Demo - Workstations', 'workstation']] as const) {
    let policy = policies.find((p) => p.name === name);
    if (!policy) {
      policy = await api('POST', '/api/v1/policies', { name, denySuperseded: true });
      await api('POST', `/api/v1/policies/${policy!.id}/members`, { scopeType: 'device_type', scopeId: deviceType });
    }
    ids.push(policy!.id);
  }
  // Servicing stack updates are classified "Updates" (Pending Approval by default), yet cumulative
  // updates need them first: MSPs approve them by KB Override, for present and future revisions.
  for (const kb of ['KB5031539', 'KB5031988', 'KB5005112']) await api('PUT', `/api/v1/kb-overrides/${kb}`, { status: 'approved' });
  return ids;
}

/** Scans every device (scan/... workflows) and waits for them, so installs see fresh results. */
export async function scanFleet(api: Api, client: Client, timeoutMs = 90_000): Promise<{ scanned: number; unfinished: number }> {
  const { scans } = (await api('POST', '/api/v1/scans', { scopeType: 'all' })) as { scans: { workflowId: string }[] };
  const deadline = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
  let unfinished = 0;
  await Promise.all(scans.map(async (s) => {
    const done = await Promise.race([client.workflow.getHandle(s.workflowId).result().then(() => 'done' as const), deadline]);
    if (done === 'timeout') unfinished++;
  }));
  return { scanned: scans.length - unfinished, unfinished };
}

/**
 * The demo client's schedules: a daily scan and a weekly Automatic Update the day after Patch Tuesday,
 * both created once (they show in `temporal schedule list` and the Web UI's Schedules page).
 */
export async function ensureDemoSchedules(api: Api, clientName = 'Acme Manufacturing'): Promise<{ id: string; name: string }[]> {
  const { clients } = (await api('GET', '/api/v1/clients')) as { clients: { id: string; name: string }[] };
  const client = clients.find((c) => c.name === clientName);
  if (!client) return [];
  const { schedules } = (await api('GET', '/api/v1/schedules')) as { schedules: { id: string; name: string }[] };
  const wanted = [
    {
      name: `${clientName}: daily scan`, kind: 'scan', scope: { scopeType: 'client', scopeId: client.id },
      timing: { kind: 'daily', time: '12:00', timezone: 'Europe/London' }, distributionWindowMinutes: 30,
    },
    {
      name: `${clientName}: Automatic Update after Patch Tuesday`, kind: 'automatic_update', scope: { scopeType: 'client', scopeId: client.id },
      timing: { kind: 'monthly_patch_tuesday', offsetDays: 1, time: '02:00', timezone: 'Europe/London' },
      // Demo-sized: devices start within 2 minutes of a triggered run (production: an hour or more).
      // A logged-on user may postpone the restart twice by a minute (demo-sized), then it is forced;
      // forced from 2 days after the patch was offered, with a day's grace for a device away then.
      distributionWindowMinutes: 2, missedRun: 'run_on_check_in',
      rebootAction: { action: 'ask_user_allow_deferrals', deferrals: 2, minutes: 1, deadlineDays: 2, graceDays: 1 },
    },
  ];
  const result: { id: string; name: string }[] = [];
  for (const w of wanted) {
    const existing = schedules.find((s) => s.name === w.name);
    result.push(existing ?? (await api('POST', '/api/v1/schedules', w)));
  }
  return result;
}

/**
 * The demo client's release plan (issue 14): three rings, the HQ site's servers at once, a stable 10%
 * sample two days later, the rest five days after release; each promoted at 95% success after 24 h.
 * Created once; start a release with `npx patchflow release start <planId> --cycle 2026-12 --kb …`.
 */
export async function ensureDemoReleasePlan(api: Api, clientName = 'Acme Manufacturing'): Promise<{ id: string; name: string } | undefined> {
  const { clients } = (await api('GET', '/api/v1/clients')) as { clients: { id: string; name: string }[] };
  const client = clients.find((c) => c.name === clientName);
  if (!client) return undefined;
  const name = `${clientName}: three rings`;
  const { plans } = (await api('GET', '/api/v1/release-plans')) as { plans: { id: string; name: string; clientId: string }[] };
  const existing = plans.find((p) => p.name === name && p.clientId === client.id);
  if (existing) return existing;
  const gate = { minSuccessRate: 95, minSuccessCount: 1, soakHours: 24 };
  const haltThreshold = { failureRate: 20, minFinished: 3 };
  return (await api('POST', '/api/v1/release-plans', {
    clientId: client.id, name, rings: [
      { name: 'servers', scope: { type: 'device_type', deviceType: 'server' }, deferral: { days: 0 }, gate, haltThreshold },
      { name: 'pilot 10%', scope: { type: 'sample', percent: 10 }, deferral: { days: 2 }, gate, haltThreshold },
      { name: 'broad', scope: { type: 'rest' }, deferral: { days: 5 }, gate, haltThreshold },
    ],
  })) as { id: string; name: string };
}
