import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import {
  deviceApprovalsResponse, devicePatchesResponse, deviceSchema, patchTestResponse, deviceWorkflowsResponse, initialUpdateViewResponse, installViewResponse, startedResponse,
  type DashboardConfig, type DeviceWorkflow,
} from '../../../api/dashboard-schemas';
import { interpretExitCode } from '../../../domain/exit-codes';
import type { DeviceView } from '../../../api/dashboard-schemas';
import { downloadSummary, sourceOrder, type DownloadReport, type FileSourcePolicy } from '../../../domain/file-source';
import { ApiError, getJson, sendJson } from '../api';
import { Link } from '../router';
import { Badge, Card, Empty, ErrorBox, Loading, PageHead, ago, when } from '../ui';

/** Statuses in the order an operator reads them: what needs attention first. */
const STATUS_ORDER = ['failed', 'missing', 'pending', 'installing', 'reboot_required', 'unverified', 'installed', 'ignored', 'superseded'];
function countBy(statuses: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of [...statuses].sort((a, b) => STATUS_ORDER.indexOf(a) - STATUS_ORDER.indexOf(b))) out[s] = (out[s] ?? 0) + 1;
  return out;
}

const OPERATION_LABEL: Record<string, string> = {
  install: 'Install', scan: 'Scan', 'initial-update': 'Initial Update', 'automatic-update': 'Automatic Update', trust_keys: 'Command keys', 'patch-test': 'Patch Test',
};
/** Every install of the device (asked for, an Automatic Update's, an Initial Update's) has an install/ id. */
const isInstall = (w: DeviceWorkflow) => w.workflowId.startsWith('install/');

/** install/<deviceId>/<key> → <key>: the install routes take the key. */
const installKeyOf = (workflowId: string) => workflowId.split('/')[2];

/** "cache, then internet": the order the site's downloads try (domain/file-source.ts sourceOrder). */
function fileSourceText(f: { source: string; fallback: boolean }): string {
  return f.fallback ? sourceOrder(f as FileSourcePolicy).join(', then ') : `${f.source} only`;
}

function LiveInstall(props: { deviceId: string; workflow: DeviceWorkflow }) {
  const key = installKeyOf(props.workflow.workflowId);
  const view = useQuery({
    queryKey: ['install', props.workflow.workflowId],
    queryFn: () => getJson(`/api/v1/devices/${props.deviceId}/installs/${key}`, installViewResponse),
    refetchInterval: (q) => (q.state.data?.status === 'RUNNING' ? 1_000 : false),
  });
  if (!view.data) return null;
  const p = view.data.progress ?? view.data.result;
  const steps = ['pre-scan', 'download', 'copy', 'execute', 'reboot', 'post-scan', 'cleanup', 'done'];
  const at = p ? steps.indexOf(p.step) : -1;
  return (
    <div className="live" data-testid="live-progress">
      <div className="live-head">
        <strong>Install {view.data.status === 'RUNNING' ? 'running' : view.data.result?.outcome ?? view.data.status.toLowerCase()}</strong>
        <span className="muted small">{props.workflow.workflowId}</span>
      </div>
      <ol className="steps">
        {steps.map((s, i) => <li key={s} className={i < at ? 'done' : i === at ? 'current' : ''}>{s}</li>)}
      </ol>
      {p && p.patches.length > 0 && (
        <ul className="live-patches">
          {p.patches.map((x) => (
            <li key={x.updateId}>
              <strong>{x.kb}</strong> <Badge status={x.status} /> {x.error && <span className="muted small">{x.error}</span>}
              {x.download && <span className="muted small" data-testid={`download-${x.kb}`}> · {downloadSummary(x.download as DownloadReport)}</span>}
            </li>
          ))}
        </ul>
      )}
      {view.data.failure && <div className="error">{view.data.failure}</div>}
    </div>
  );
}

/** A running Initial Update: its cycle, step and group, and what is left (polled while it runs). */
function LiveInitialUpdate(props: { deviceId: string }) {
  const view = useQuery({
    queryKey: ['initial-update', props.deviceId],
    queryFn: () => getJson(`/api/v1/devices/${props.deviceId}/initial-update`, initialUpdateViewResponse),
    refetchInterval: (q) => (q.state.data?.status === 'RUNNING' ? 1_500 : false),
  });
  const p = view.data?.progress;
  if (!view.data || !p) return null;
  return (
    <div className="live" data-testid="live-initial-update">
      <div className="live-head"><strong>Initial Update running · cycle {p.cycle} · {p.step}{p.currentGroup ? ` (${p.currentGroup})` : ''}</strong>
        <span className="muted small">{view.data.device.online ? 'device online' : `waiting for the device since ${ago(view.data.device.waitingForDeviceSince)}`}</span></div>
      <div className="kpis small-kpis">
        <div className="kpi"><span className="kpi-value">{p.installed.length}</span><span className="kpi-label">installed</span></div>
        <div className="kpi"><span className="kpi-value">{p.remaining.length}</span><span className="kpi-label">remaining</span></div>
        <div className="kpi"><span className="kpi-value">{p.failed.length}</span><span className="kpi-label">failed at least once</span></div>
        <div className="kpi"><span className="kpi-value">{p.reboots}</span><span className="kpi-label">reboots</span></div>
      </div>
    </div>
  );
}

/**
 * An automatic rollback could not clean this device up (an uninstall failed): why, since when, and
 * for the operator who fixed it, a note and "Mark fixed" (POST …/needs-attention/clear, audited).
 */
function NeedsAttention(props: { device: DeviceView }) {
  const qc = useQueryClient();
  const [note, setNote] = useState('');
  const clear = useMutation({
    mutationFn: () => sendJson('POST', `/api/v1/devices/${props.device.id}/needs-attention/clear`, { note }, deviceSchema),
    onSuccess: () => { void qc.invalidateQueries({ queryKey: ['device', props.device.id] }); void qc.invalidateQueries({ queryKey: ['needs-attention'] }); },
  });
  if (!props.device.needsAttention) return null;
  return (
    <div className="attention" data-testid="device-needs-attention">
      <strong>Needs attention</strong> since {when(props.device.needsAttentionAt)}: {props.device.needsAttention}
      <form onSubmit={(e) => { e.preventDefault(); clear.mutate(); }}>
        <input value={note} onChange={(e) => setNote(e.target.value)} placeholder="What did you fix? (kept in the audit log)" aria-label="note" />
        <button type="submit" disabled={clear.isPending || note.trim() === ''}>Mark fixed</button>
      </form>
      <ErrorBox error={clear.error} />
    </div>
  );
}

const CHECK_LABEL: Record<string, string> = {
  credentials: 'Credentials', 'working-folder-protected': 'Working folder is not protected', 'working-folder-permissions': 'Working folder permissions',
  'disk-space': 'Free disk space', 'file-source': 'File source and hash', 'windows-update-services': 'Windows Update services',
};

/** The latest Patch Test: each check pass or fail with its reason; a failed one blocks Automatic Update. */
function PatchTestCard(props: { deviceId: string; running: boolean }) {
  const view = useQuery({
    queryKey: ['patch-test', props.deviceId],
    // 404: the device never had one (not an error to show).
    queryFn: () => getJson(`/api/v1/devices/${props.deviceId}/patch-test`, patchTestResponse).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }),
    refetchInterval: props.running ? 1_500 : 15_000,
  });
  const t = view.data;
  return (
    <Card title="Patch Test" testId="patch-test" actions={t && <span className={t.passed ? 'pt-pass' : 'pt-fail'} data-testid="patch-test-verdict">{t.passed ? 'Passed' : 'Failed'} · {when(t.testedAt)}</span>}>
      {props.running && <div className="live"><div className="live-head"><strong>Patch Test running</strong><span className="muted small">every install step but execute and reboot</span></div></div>}
      {view.isPending ? <Loading /> : view.error ? <ErrorBox error={view.error} /> : !t ? <Empty>No Patch Test yet: run one to check this device before its next Automatic Update.</Empty> : (
        <>
          <table className="grid pt-table">
            <colgroup><col style={{ width: '30%' }} /><col style={{ width: '8%' }} /><col /></colgroup>
            <thead><tr><th>Check</th><th>Result</th><th>Reason</th></tr></thead>
            <tbody>
              {t.checks.map((c, i) => (
                <tr key={`${c.check}-${i}`} data-testid={`check-${c.check}`}>
                  <td>{CHECK_LABEL[c.check] ?? c.check}{c.subject && <div className="muted small">{c.subject}</div>}</td>
                  <td><span className={c.passed ? 'pt-pass' : 'pt-fail'}>{c.passed ? 'pass' : 'fail'}</span></td>
                  <td className="small">{c.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="fine">Patches checked: {t.kbs.join(', ') || 'none (nothing approved is missing)'} · requested by {t.requestedBy} · {t.workflowId}</p>
        </>
      )}
    </Card>
  );
}

export function DevicePage(props: { deviceId: string; temporal?: DashboardConfig }) {
  const id = props.deviceId;
  const qc = useQueryClient();
  const device = useQuery({ queryKey: ['device', id], queryFn: () => getJson(`/api/v1/devices/${id}`, deviceSchema) });
  const patches = useQuery({ queryKey: ['device-patches', id], queryFn: () => getJson(`/api/v1/devices/${id}/patches`, devicePatchesResponse), refetchInterval: 5_000 });
  const approvals = useQuery({ queryKey: ['device-approvals', id], queryFn: () => getJson(`/api/v1/devices/${id}/approvals`, deviceApprovalsResponse), refetchInterval: 10_000 });
  const workflows = useQuery({
    queryKey: ['device-workflows', id],
    queryFn: () => getJson(`/api/v1/devices/${id}/workflows`, deviceWorkflowsResponse),
    refetchInterval: (q) => (q.state.data?.workflows.some((w) => w.status === 'RUNNING') ? 1_500 : 5_000),
  });
  const [notice, setNotice] = useState<string | null>(null);
  const [statusFilter, setStatusFilter] = useState<string | null>(null);
  const refresh = () => { void qc.invalidateQueries({ queryKey: ['device-workflows', id] }); void qc.invalidateQueries({ queryKey: ['device-patches', id] }); };
  const act = useMutation({
    mutationFn: async (what: 'scan' | 'install' | 'initial-update' | 'patch-test' | 'cancel') => {
      if (what === 'scan') return sendJson('POST', `/api/v1/devices/${id}/scans`, {}, startedResponse);
      if (what === 'patch-test') return sendJson('POST', `/api/v1/devices/${id}/patch-test`, {}, startedResponse);
      if (what === 'install') return sendJson('POST', `/api/v1/devices/${id}/installs`, {}, startedResponse);
      if (what === 'initial-update') return sendJson('POST', `/api/v1/devices/${id}/initial-update`, {}, startedResponse);
      // An Initial Update first: cancelling it also ends the install it is running.
      const all = workflows.data?.workflows.filter((w) => w.status === 'RUNNING') ?? [];
      const running = all.find((w) => w.operation === 'initial-update') ?? all.find(isInstall);
      if (!running) throw new Error('nothing to cancel: no install or Initial Update is running on this device');
      const path = running.operation === 'initial-update' ? `/api/v1/devices/${id}/initial-update/cancel` : `/api/v1/devices/${id}/installs/${installKeyOf(running.workflowId)}/cancel`;
      await sendJson('POST', path, { reason: 'cancelled from the dashboard' }, startedResponse.partial().loose());
      return { workflowId: running.workflowId, location: '' };
    },
    onSuccess: (r, what) => { setNotice(`${what === 'cancel' ? 'Cancel requested for' : 'Started'} ${r.workflowId}`); setTimeout(refresh, 300); },
    onError: () => setNotice(null),
  });
  if (device.isPending) return <Loading />;
  if (device.error) return <ErrorBox error={device.error} />;
  const d = device.data;
  const reasons = new Map(approvals.data?.patches.map((p) => [p.updateId, p]) ?? []);
  const running = workflows.data?.workflows.filter((w) => w.status === 'RUNNING') ?? [];
  const runningInstall = running.find(isInstall);
  const testing = running.some((w) => w.operation === 'patch-test');
  const busy = testing || running.some((w) => isInstall(w) || w.operation === 'initial-update');
  return (
    <>
      <PageHead
        title={d.name}
        subtitle={<><Link to="/fleet">Fleet</Link> · {d.clientName} / {d.siteName} · {d.deviceType} · {d.os ?? 'OS unknown'} · last check-in {ago(d.lastCheckInAt)}{d.fileSource && <> · <span data-testid="file-source">file source {fileSourceText(d.fileSource)}</span></>}</>}
        actions={<>
          <button onClick={() => act.mutate('scan')} disabled={act.isPending}>Scan now</button>
          <button className="primary" onClick={() => act.mutate('install')} disabled={act.isPending || busy}>Install now</button>
          <button onClick={() => act.mutate('initial-update')} disabled={act.isPending || busy}>Initial Update</button>
          <button onClick={() => act.mutate('patch-test')} disabled={act.isPending || busy} data-testid="run-patch-test">Patch Test</button>
          <button className="danger" onClick={() => act.mutate('cancel')} disabled={act.isPending || !busy}>Cancel</button>
        </>}
      />
      <ErrorBox error={act.error} />
      <NeedsAttention device={d} />
      {notice && <div className="notice" data-testid="notice">{notice}</div>}
      {runningInstall && <LiveInstall deviceId={id} workflow={runningInstall} />}
      {running.some((w) => w.operation === 'initial-update') && <LiveInitialUpdate deviceId={id} />}
      {running.filter((w) => w.operation === 'scan').map((w) => (
        <div key={w.runId} className="live" data-testid="live-scan"><div className="live-head"><strong>Scan running</strong><span className="muted small">{w.workflowId} · started {ago(w.startTime)}</span></div></div>
      ))}
      {d.automaticUpdateBlocked && <div className="error" data-testid="device-au-blocked">{d.automaticUpdateBlocked}</div>}
      <PatchTestCard deviceId={id} running={testing} />
      <Card title="Patches" testId="device-patches" actions={patches.data && (
        <div className="chips">
          <button className={statusFilter === null ? 'chip on' : 'chip'} onClick={() => setStatusFilter(null)}>All {patches.data.patches.length}</button>
          {Object.entries(countBy(patches.data.patches.map((p) => p.status))).map(([s, n]) => (
            <button key={s} className={statusFilter === s ? 'chip on' : 'chip'} onClick={() => setStatusFilter(statusFilter === s ? null : s)}><Badge status={s} /> {n}</button>
          ))}
        </div>
      )}>
        {patches.isPending ? <Loading /> : patches.error ? <ErrorBox error={patches.error} /> : patches.data.patches.length === 0 ? <Empty>No scan results yet: Scan now.</Empty> : (
          <table className="grid">
            <thead><tr><th>Patch</th><th>Classification</th><th>Status</th><th>Installed</th><th>Exit code</th><th>Error</th><th>Why (approval)</th></tr></thead>
            <tbody>
              {patches.data.patches.filter((p) => statusFilter === null || p.status === statusFilter).map((p) => {
                const meaning = p.lastExitCode === null ? null : interpretExitCode(p.lastExitCode);
                const why = reasons.get(p.updateId);
                return (
                  <tr key={p.updateId} data-testid={`patch-${p.kb}`}>
                    <td><strong>{p.kb}</strong><div className="muted small clamp" title={p.title}>{p.title}</div></td>
                    <td>{p.classification}<div className="muted small">{p.severity}</div></td>
                    <td data-testid="status"><Badge status={p.status} /></td>
                    <td>{when(p.installedAt)}</td>
                    <td className="mono" title={meaning ? `${meaning.name}: ${meaning.description}` : ''}>{meaning ? <>{meaning.display}<div className="muted small">{meaning.name}</div></> : '—'}</td>
                    <td className="small">{p.lastError ?? '—'}</td>
                    <td className="small" data-testid="reason">{why ? <span className={`reason reason-${why.decision}`}>{why.reason}</span> : '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="Workflows" testId="device-workflows">
        {workflows.isPending ? <Loading /> : workflows.error ? <ErrorBox error={workflows.error} /> : workflows.data.workflows.length === 0 ? <Empty>No install, scan or Initial Update has run on this device yet.</Empty> : (
          <table className="grid">
            <thead><tr><th>Operation</th><th>Workflow</th><th>Status</th><th>Started</th><th>Closed</th><th>History</th></tr></thead>
            <tbody>
              {workflows.data.workflows.map((w) => (
                <tr key={w.runId} data-testid="workflow-row">
                  <td>{OPERATION_LABEL[w.operation ?? ''] ?? w.operation ?? w.type}</td>
                  <td className="mono small">{w.workflowId}</td>
                  <td><span className={`wf wf-${w.status.toLowerCase()}`}>{w.status.toLowerCase().replace('_', ' ')}</span></td>
                  <td>{when(w.startTime)}</td>
                  <td>{when(w.closeTime)}</td>
                  <td>{w.temporalUrl ? <a href={w.temporalUrl} target="_blank" rel="noreferrer" data-testid="temporal-link">Temporal UI ↗</a> : <span className="muted small">set TEMPORAL_UI_URL</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      {props.temporal?.temporalUiUrl && <p className="fine">All of this device's workflows in Temporal: filter with <code>DeviceId = "{id}"</code> or <code>DeviceName = "{d.name}"</code>.</p>}
    </>
  );
}
