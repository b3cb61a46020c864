import { useQuery } from '@tanstack/react-query';
import { devicesResponse, fleetSummaryResponse, type DeviceView, type FleetDeviceView, type FleetSummaryResponse } from '../../../api/dashboard-schemas';
import { getJson } from '../api';
import { Link, useLocation } from '../router';
import { Card, Empty, ErrorBox, Loading, PageHead, Percent, ago, when } from '../ui';

/** The lists the fleet page's counts link to: each count is the length of its list. */
export const FLEET_LISTS: Record<string, { title: string; devices: (d: FleetDeviceView) => boolean }> = {
  all: { title: 'Devices', devices: () => true },
  'fully-patched': { title: 'Fully patched devices', devices: (d) => d.fullyPatched },
  'not-fully-patched': { title: 'Devices with patches outstanding', devices: (d) => !d.fullyPatched },
  'missing-critical': { title: 'Devices missing critical updates', devices: (d) => d.missingCritical > 0 },
  'missing-security': { title: 'Devices missing security updates', devices: (d) => d.missingSecurity > 0 },
  'reboot-required': { title: 'Devices with Reboot Required', devices: (d) => d.rebootRequired },
  'stale-scan': { title: 'Devices last scanned more than 7 days ago', devices: (d) => d.staleScan },
  offline: { title: 'Offline devices', devices: (d) => d.offline },
  failed: { title: 'Devices with failed installs', devices: (d) => d.failed > 0 },
  'patch-test-failed': { title: 'Devices whose Patch Test failed (Automatic Update blocked)', devices: (d) => Boolean(d.automaticUpdateBlocked) },
};

const useFleet = () => useQuery({ queryKey: ['fleet'], queryFn: () => getJson('/api/v1/fleet/summary', fleetSummaryResponse), refetchInterval: 15_000 });
/** Devices an automatic rollback could not clean up (an uninstall failed): a person must look. */
const useNeedsAttention = () => useQuery({ queryKey: ['needs-attention'], queryFn: () => getJson('/api/v1/devices?needsAttention=true', devicesResponse), refetchInterval: 15_000 });
const attentionMap = (devices: DeviceView[] | undefined) => new Map((devices ?? []).map((d) => [d.id, d.needsAttention ?? 'needs attention']));

function NeedsAttentionCard(props: { devices: DeviceView[] }) {
  if (props.devices.length === 0) return null;
  return (
    <Card title={`Needs attention (${props.devices.length})`} testId="needs-attention">
      <table className="grid">
        <thead><tr><th>Device</th><th>Client / site</th><th>Since</th><th>Why</th></tr></thead>
        <tbody>
          {props.devices.map((d) => (
            <tr key={d.id} data-testid="needs-attention-row">
              <td className="nowrap"><Link to={`/devices/${d.id}`}>{d.name}</Link></td>
              <td>{d.clientName} / {d.siteName}</td>
              <td title={when(d.needsAttentionAt)}>{ago(d.needsAttentionAt)}</td>
              <td className="small">{d.needsAttention}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

function Kpi(props: { label: string; value: number | string; to: string; tone?: string; testId: string; hint?: string }) {
  return (
    <Link to={props.to} className={`kpi kpi-${props.tone ?? 'plain'}`} testId={props.testId}>
      <span className="kpi-value" data-testid={`${props.testId}-value`}>{props.value}</span>
      <span className="kpi-label">{props.label}</span>
      {props.hint && <span className="kpi-hint">{props.hint}</span>}
    </Link>
  );
}

const listUrl = (kind: string, extra: Record<string, string> = {}) => `/fleet/list?${new URLSearchParams({ kind, ...extra })}`;

export function FleetPage() {
  const fleet = useFleet();
  const attention = useNeedsAttention();
  if (fleet.isPending) return <Loading />;
  if (fleet.error) return <ErrorBox error={fleet.error} />;
  const f = fleet.data;
  const t = f.totals;
  return (
    <>
      <PageHead title="Fleet" subtitle={<>{t.devices} devices across {f.clients.length} clients · updated {ago(f.generatedAt)}</>} />
      <div className="kpis">
        <Kpi testId="kpi-compliance" label="Fleet compliance" value={`${t.compliancePercent.toFixed(1)}%`} to={listUrl('not-fully-patched')} tone={t.compliancePercent >= 95 ? 'good' : 'bad'} hint={`${t.fullyPatched} of ${t.devices} fully patched`} />
        <Kpi testId="kpi-missing-critical" label="Missing critical updates" value={t.missingCritical} to={listUrl('missing-critical')} tone={t.missingCritical ? 'bad' : 'good'} hint={`on ${f.devices.filter((d) => d.missingCritical > 0).length} devices`} />
        <Kpi testId="kpi-missing-security" label="Missing security updates" value={t.missingSecurity} to={listUrl('missing-security')} tone={t.missingSecurity ? 'bad' : 'good'} hint={`on ${f.devices.filter((d) => d.missingSecurity > 0).length} devices`} />
        <Kpi testId="kpi-failed" label="Failed installs" value={t.failed} to={listUrl('failed')} tone={t.failed ? 'bad' : 'good'} hint="device × patch, retries exhausted" />
        <Kpi testId="kpi-reboot-required" label="Reboot required" value={t.rebootRequired} to={listUrl('reboot-required')} tone={t.rebootRequired ? 'warn' : 'good'} />
        <Kpi testId="kpi-stale-scan" label="Scan older than 7 days" value={t.staleScan} to={listUrl('stale-scan')} tone={t.staleScan ? 'warn' : 'good'} />
        <Kpi testId="kpi-patch-test-failed" label="Patch Test failed" value={t.patchTestFailed ?? 0} to={listUrl('patch-test-failed')} tone={t.patchTestFailed ? 'bad' : 'good'} hint="Automatic Update blocked" />
        <Kpi testId="kpi-offline" label="Offline" value={t.offline} to={listUrl('offline')} tone={t.offline ? 'warn' : 'good'} hint={`no check-in for ${Math.round(f.offlineAfterSeconds / 60)} min`} />
      </div>
      <NeedsAttentionCard devices={attention.data?.devices ?? []} />
      <Card title="Compliance by client and site" testId="compliance-table">
        {f.clients.length === 0 ? <Empty>No devices yet: register one with POST /api/v1/devices.</Empty> : (
          <table className="grid">
            <thead><tr><th>Client / site</th><th className="num">Devices</th><th className="num">Fully patched</th><th>Compliance</th></tr></thead>
            <tbody>
              {f.clients.flatMap((c) => [
                <tr key={c.clientId} className="group-row" data-testid={`client-${c.clientName}`}>
                  <td>{c.clientName}</td>
                  <td className="num"><Link to={listUrl('all', { clientId: c.clientId })} testId="devices">{c.devices}</Link></td>
                  <td className="num"><Link to={listUrl('fully-patched', { clientId: c.clientId })} testId="fully-patched">{c.fullyPatched}</Link></td>
                  <td data-testid="percent"><Percent value={c.compliancePercent} /></td>
                </tr>,
                ...c.sites.map((s) => (
                  <tr key={s.siteId} className="sub-row" data-testid={`site-${c.clientName}-${s.siteName}`}>
                    <td className="indent">{s.siteName}</td>
                    <td className="num"><Link to={listUrl('all', { siteId: s.siteId })} testId="devices">{s.devices}</Link></td>
                    <td className="num"><Link to={listUrl('fully-patched', { siteId: s.siteId })} testId="fully-patched">{s.fullyPatched}</Link></td>
                    <td data-testid="percent"><Percent value={s.compliancePercent} /></td>
                  </tr>
                )),
              ])}
            </tbody>
          </table>
        )}
      </Card>
      <div>
        <Card title="Missing critical and security updates by device">
          <DeviceTable devices={f.devices.filter((d) => d.missingCritical + d.missingSecurity > 0).sort((a, b) => (b.missingCritical + b.missingSecurity) - (a.missingCritical + a.missingSecurity)).slice(0, 10)} columns="missing" attention={attentionMap(attention.data?.devices)} />
        </Card>
        <Card title="Failed installs">
          <FailedTable failed={f.failedInstalls.slice(0, 10)} />
        </Card>
      </div>
    </>
  );
}

function DeviceTable(props: { devices: FleetDeviceView[]; columns: 'missing' | 'full'; attention: Map<string, string> }) {
  if (props.devices.length === 0) return <Empty>None.</Empty>;
  return (
    <table className="grid" data-testid="device-list">
      <thead>
        <tr>
          <th>Device</th><th>Client / site</th>
          <th className="num">Missing critical</th><th className="num">Missing security</th>
          {props.columns === 'full' && <><th className="num">Failed</th><th>Reboot</th><th>Automatic Update</th><th>Last scan</th><th>Last check-in</th></>}
        </tr>
      </thead>
      <tbody>
        {props.devices.map((d) => (
          <tr key={d.deviceId} data-testid="device-row">
            <td className="nowrap">
              <Link to={`/devices/${d.deviceId}`}>{d.deviceName}</Link>
              {props.attention.has(d.deviceId) && <> <span className="badge badge-attention" title={props.attention.get(d.deviceId)} data-testid="needs-attention-badge">Needs attention</span></>}
              <div className="muted small">{d.deviceType}</div>
            </td>
            <td>{d.clientName} / {d.siteName}</td>
            <td className="num">{d.missingCritical || '—'}</td>
            <td className="num">{d.missingSecurity || '—'}</td>
            {props.columns === 'full' && <>
              <td className="num">{d.failed || '—'}</td>
              <td>{d.rebootRequired ? <span className="badge badge-reboot_required">Reboot Required</span> : '—'}</td>
              <td className="small" data-testid="au-blocked">{d.automaticUpdateBlocked ? <span className="pt-fail" title={d.automaticUpdateBlocked}>blocked: Patch Test failed</span> : '—'}</td>
              <td className={d.staleScan ? 'warn-text' : ''} title={when(d.lastScanAt)}>{ago(d.lastScanAt)}</td>
              <td className={d.offline ? 'warn-text' : ''} title={when(d.lastCheckInAt)}>{d.offline ? 'offline · ' : ''}{ago(d.lastCheckInAt)}</td>
            </>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function FailedTable(props: { failed: FleetSummaryResponse['failedInstalls'] }) {
  if (props.failed.length === 0) return <Empty>No failed installs.</Empty>;
  return (
    <table className="grid" data-testid="failed-list">
      <thead><tr><th>Device</th><th>Patch</th><th>Exit code</th><th>Meaning</th><th className="num">Attempts</th></tr></thead>
      <tbody>
        {props.failed.map((f) => (
          <tr key={`${f.deviceId}/${f.updateId}`}>
            <td className="nowrap"><Link to={`/devices/${f.deviceId}`}>{f.deviceName}</Link></td>
            <td><strong>{f.kb}</strong><span className="muted small clip" title={f.title}>{f.title}</span></td>
            <td className="mono">{f.exitCode ?? '—'}</td>
            <td className="small"><span className="clamp wide" title={f.lastError ?? ''}>{f.exitCodeMeaning ?? f.lastError ?? '—'}</span></td>
            <td className="num">{f.failedAttempts}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function FleetListPage() {
  const { query } = useLocation();
  const fleet = useFleet();
  const attention = useNeedsAttention();
  const kind = query.get('kind') ?? 'all';
  const list = FLEET_LISTS[kind] ?? FLEET_LISTS.all;
  if (fleet.isPending) return <Loading />;
  if (fleet.error) return <ErrorBox error={fleet.error} />;
  const clientId = query.get('clientId');
  const siteId = query.get('siteId');
  const inScope = (d: { clientId?: string; siteId?: string }) => (!clientId || d.clientId === clientId) && (!siteId || d.siteId === siteId);
  const devices = fleet.data.devices.filter((d) => inScope(d) && list.devices(d));
  const scope = siteId ? fleet.data.devices.find((d) => d.siteId === siteId) : clientId ? fleet.data.devices.find((d) => d.clientId === clientId) : undefined;
  const scopeName = siteId ? `${scope?.clientName} / ${scope?.siteName}` : clientId ? scope?.clientName : 'all clients';
  const failed = kind === 'failed' ? fleet.data.failedInstalls.filter((f) => devices.some((d) => d.deviceId === f.deviceId)) : [];
  return (
    <>
      <PageHead title={list.title} subtitle={<><Link to="/fleet">Fleet</Link> · {scopeName} · <span data-testid="list-count">{kind === 'failed' ? failed.length : devices.length}</span> {kind === 'failed' ? 'failed installs' : 'devices'}</>} />
      {kind === 'failed' ? <Card title="Failed installs"><FailedTable failed={failed} /></Card> : <Card title="Devices"><DeviceTable devices={devices} columns="full" attention={attentionMap(attention.data?.devices)} /></Card>}
    </>
  );
}
