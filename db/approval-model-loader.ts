import {
  SCOPE_WALK, scopeIdOf, type ApprovalDevice, type ApprovalModel, type ApprovalPatch, type ApprovalPolicy, type ApprovalStatus,
  type DevicePatchState, type PatchAction, type PolicyApproval, type ScopeLevel,
} from '../domain/approval-model';
import type { Queryable } from './database';

/**
 * Loads everything approval is decided from, in seven queries whatever the fleet size: the catalog,
 * the devices (all, or `deviceIds`) with the policies they are in (directly, or through their site,
 * client, device type or an "all devices" membership), those policies with their statuses and
 * defaults, KB overrides, the actions set at those devices' scopes and the names of their sites and
 * clients for reasons.
 *
 * With `deviceIds` only what can decide for those devices is read: the policies they are members of
 * and the actions at their device, site, client and device type. An install on one device then reads
 * its few policies' rows, not every client's (the approvals table grows with policies × catalog).
 * Without `deviceIds` everything is read, for the whole fleet.
 * Queries run one after another so that `db` may be a transaction's client.
 */
export async function loadApprovalModel(
  db: Queryable, options: { deviceIds?: string[]; now?: Date } = {},
): Promise<ApprovalModel> {
  const deviceIds = options.deviceIds ?? null;
  // The instant the decisions are for (deferred approvals): the caller's, else this process's clock.
  // It is read here, at the I/O edge, so that the resolver itself never reads a clock.
  const now = (options.now ?? new Date()).toISOString();

  const patchRows = (await db.query(
    `SELECT update_id, kb, title, classification, product, severity, install_type, superseded_by, uninstallable, published_at
     FROM patches ORDER BY kb, update_id`,
  )).rows;
  const patches: ApprovalPatch[] = patchRows.map((r) => ({
    updateId: r.update_id, kb: r.kb, title: r.title, classification: r.classification, product: r.product, severity: r.severity,
    installType: r.install_type, supersededBy: r.superseded_by, uninstallable: r.uninstallable,
    releasedAt: r.published_at ? (r.published_at as Date).toISOString() : null,
  }));

  const deviceRows = (await db.query(
    `SELECT d.id, d.name, d.site_id, s.client_id, d.device_type,
            ARRAY(SELECT DISTINCT m.policy_id::text FROM policy_members m
                  WHERE (m.scope_type = 'device' AND m.scope_id = d.id::text)
                     OR (m.scope_type = 'site' AND m.scope_id = d.site_id::text)
                     OR (m.scope_type = 'client' AND m.scope_id = s.client_id::text)
                     OR (m.scope_type = 'device_type' AND m.scope_id = d.device_type)
                     OR m.scope_type = 'all'
                  ORDER BY 1) AS policy_ids
     FROM devices d JOIN sites s ON s.id = d.site_id
     WHERE $1::uuid[] IS NULL OR d.id = ANY($1::uuid[])
     ORDER BY d.name, d.id`,
    [deviceIds],
  )).rows;
  const devices: ApprovalDevice[] = deviceRows.map((r) => ({
    id: r.id, name: r.name, siteId: r.site_id, clientId: r.client_id, deviceType: r.device_type, policyIds: r.policy_ids,
  }));

  // null: the whole fleet, so every policy, action and name
  const scoped = deviceIds === null ? null : scopesOf(devices);

  const policyRows = (await db.query(
    `SELECT id, name, deny_manual_install_only, deny_windows_update_web_site, deny_superseded, fallback_default
     FROM approval_policies WHERE $1::uuid[] IS NULL OR id = ANY($1::uuid[]) ORDER BY name`,
    [scoped?.policyIds ?? null],
  )).rows;
  const approvalRows = (await db.query(
    'SELECT policy_id, update_id, status, source, note, approve_after_days FROM policy_approvals WHERE $1::uuid[] IS NULL OR policy_id = ANY($1::uuid[])',
    [scoped?.policyIds ?? null],
  )).rows;
  const defaultRows = (await db.query(
    'SELECT policy_id, kind, key, status, approve_after_days FROM policy_defaults WHERE $1::uuid[] IS NULL OR policy_id = ANY($1::uuid[])',
    [scoped?.policyIds ?? null],
  )).rows;

  const approvals = groupBy(approvalRows, (r) => r.policy_id as string);
  const defaults = groupBy(defaultRows, (r) => r.policy_id as string);
  const policies: ApprovalPolicy[] = policyRows.map((r) => {
    const own = defaults.get(r.id) ?? [];
    const byKind = (kind: string) => new Map<string, ApprovalStatus>(own.filter((d) => d.kind === kind).map((d) => [d.key, d.status]));
    return {
      id: r.id,
      name: r.name,
      denyManualInstallOnly: r.deny_manual_install_only,
      denyWindowsUpdateWebSite: r.deny_windows_update_web_site,
      denySuperseded: r.deny_superseded,
      approvals: new Map<string, PolicyApproval>((approvals.get(r.id) ?? []).map((a) => {
        const row: PolicyApproval = { status: a.status, source: a.source };
        if (a.note !== null) row.note = a.note;
        if (a.approve_after_days !== null) row.approveAfterDays = a.approve_after_days;
        return [a.update_id, row];
      })),
      defaultDeferrals: new Map<string, number>(own.filter((d) => d.approve_after_days !== null).map((d) => [`${d.kind}:${d.key}`, d.approve_after_days])),
      classificationDefaults: byKind('classification'),
      kaseyaClassificationDefaults: byKind('kaseya_classification'),
      productDefaults: byKind('product'),
      fallbackDefault: r.fallback_default,
    };
  });

  const kbOverrides = new Map<string, ApprovalStatus>(
    (await db.query('SELECT kb, status FROM kb_overrides')).rows.map((r) => [String(r.kb).toUpperCase(), r.status]),
  );

  // Only the scopes the resolver walks for these devices: device → site → client → device type.
  const actionRows = (await db.query(
    `SELECT scope_type, scope_id, update_id, action FROM patch_actions
     WHERE $1::text[] IS NULL OR (scope_type, scope_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [scoped?.scopeTypes ?? null, scoped?.scopeIds ?? null],
  )).rows;
  const actions = new Map<string, Map<string, PatchAction>>();
  for (const r of actionRows) {
    const key = `${r.scope_type}:${r.scope_id}`;
    let byUpdate = actions.get(key);
    if (!byUpdate) actions.set(key, (byUpdate = new Map()));
    byUpdate.set(r.update_id, r.action);
  }

  const nameRows = (await db.query(
    `SELECT 'site' AS kind, id::text, name FROM sites WHERE $1::uuid[] IS NULL OR id = ANY($1::uuid[])
     UNION ALL
     SELECT 'client', id::text, name FROM clients WHERE $2::uuid[] IS NULL OR id = ANY($2::uuid[])`,
    [scoped?.siteIds ?? null, scoped?.clientIds ?? null],
  )).rows;
  const names = {
    sites: new Map<string, string>(nameRows.filter((r) => r.kind === 'site').map((r) => [r.id, r.name])),
    clients: new Map<string, string>(nameRows.filter((r) => r.kind === 'client').map((r) => [r.id, r.name])),
  };

  return { patches, devices, policies, kbOverrides, actions, names, now };
}

/** What each device reports for each patch, keyed by device id then update id. */
export type DeviceStates = ReadonlyMap<string, ReadonlyMap<string, DevicePatchState>>;

/**
 * The status and failed attempts of every patch on these devices, in one query, as a map
 * device id → update id → state (what the resolver's `deviceStates` takes).
 */
export async function loadDeviceStates(db: Queryable, deviceIds: string[]): Promise<DeviceStates> {
  const { rows } = await db.query(
    `SELECT device_id, update_id, status, failed_attempts FROM device_patches WHERE device_id = ANY($1::uuid[])`,
    [deviceIds],
  );
  const states = new Map<string, Map<string, DevicePatchState>>(deviceIds.map((id) => [id, new Map()]));
  for (const r of rows) {
    let byUpdate = states.get(r.device_id);
    if (!byUpdate) states.set(r.device_id, (byUpdate = new Map()));
    byUpdate.set(r.update_id, { status: r.status, failedAttempts: Number(r.failed_attempts) });
  }
  return states;
}

/** What can decide for these devices: their policies, and the scope keys of the resolver's walk. */
function scopesOf(devices: readonly ApprovalDevice[]) {
  const distinct = (values: string[]) => [...new Set(values)];
  const scopes = new Map<string, { type: ScopeLevel; id: string }>();
  for (const d of devices) {
    for (const level of SCOPE_WALK) {
      const id = scopeIdOf(d, level);
      scopes.set(`${level}:${id}`, { type: level, id });
    }
  }
  return {
    policyIds: distinct(devices.flatMap((d) => d.policyIds)),
    siteIds: distinct(devices.map((d) => d.siteId)),
    clientIds: distinct(devices.map((d) => d.clientId)),
    scopeTypes: [...scopes.values()].map((s) => s.type),
    scopeIds: [...scopes.values()].map((s) => s.id),
  };
}

function groupBy<T>(rows: T[], key: (r: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
}
