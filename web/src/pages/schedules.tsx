import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { z } from 'zod';
import { rolloutProgressResponse, rolloutsResponse, scheduleListResponse, type DashboardConfig } from '../../../api/dashboard-schemas';
import { getJson, sendJson } from '../api';
import { Card, Empty, ErrorBox, Loading, PageHead, when } from '../ui';

const TALLY = [['done', 'Done'], ['failed', 'Failed'], ['offline', 'Offline'], ['busy', 'Busy'], ['rebootPending', 'Reboot pending']] as const;

function temporalLink(cfg: DashboardConfig | undefined, workflowId: string): string | null {
  if (!cfg?.temporalUiUrl) return null;
  // The rollout's runs (continue-as-new makes several) as the Web UI lists them, newest first.
  return `${cfg.temporalUiUrl}/namespaces/${encodeURIComponent(cfg.namespace)}/workflows?query=${encodeURIComponent(`WorkflowId="${workflowId}"`)}`;
}

function LiveRollout(props: { workflowId: string; temporal?: DashboardConfig }) {
  const live = useQuery({
    queryKey: ['rollout', props.workflowId],
    queryFn: () => getJson(`/api/v1/rollouts/progress?workflowId=${encodeURIComponent(props.workflowId)}`, rolloutProgressResponse),
    refetchInterval: (q) => (q.state.data?.status === 'RUNNING' ? 1_500 : false),
  });
  if (!live.data) return live.error ? <ErrorBox error={live.error} /> : <Loading />;
  const c = live.data.progress?.counts;
  return (
    <div className="live" data-testid="live-rollout">
      <div className="live-head"><strong>Rollout {live.data.status.toLowerCase()}</strong>
        {live.data.temporalUrl && <a href={live.data.temporalUrl} target="_blank" rel="noreferrer">history in Temporal ↗</a>}</div>
      {c ? (
        <div className="kpis">{[['devices', 'Devices'] as const, ...TALLY].map(([k, label]) => <div key={k} className="kpi"><span className="kpi-value">{c[k]}</span><span className="kpi-label">{label}</span></div>)}
          <div className="kpi"><span className="kpi-value">{live.data.progress!.inFlight}</span><span className="kpi-label">In flight</span></div></div>
      ) : <p className="muted">Finished: its tally is in the table below.</p>}
    </div>
  );
}

function Rollouts(props: { scheduleId: string; temporal?: DashboardConfig }) {
  const rollouts = useQuery({ queryKey: ['rollouts', props.scheduleId], queryFn: () => getJson(`/api/v1/schedules/${props.scheduleId}/rollouts`, rolloutsResponse), refetchInterval: 5_000 });
  if (rollouts.isPending) return <Loading />;
  if (rollouts.error) return <ErrorBox error={rollouts.error} />;
  const running = rollouts.data.rollouts.find((r) => !r.finishedAt);
  return (
    <>
      {running && <LiveRollout workflowId={running.workflowId} temporal={props.temporal} />}
      {rollouts.data.rollouts.length === 0 ? <Empty>No run yet.</Empty> : (
        <table className="grid">
          <thead><tr><th>Started</th><th>Finished</th>{TALLY.map(([, l]) => <th key={l} className="num">{l}</th>)}<th>History</th></tr></thead>
          <tbody>{rollouts.data.rollouts.map((r) => {
            const c = 'done' in r.counts ? r.counts : null;
            const link = temporalLink(props.temporal, r.workflowId);
            return (
              <tr key={r.workflowId}>
                <td>{when(r.startedAt)}</td><td>{r.finishedAt ? when(r.finishedAt) : <span className="wf wf-running">running</span>}</td>
                {TALLY.map(([k]) => <td key={k} className="num">{c ? c[k] : '—'}</td>)}
                <td>{link ? <a href={link} target="_blank" rel="noreferrer">Temporal UI ↗</a> : <span className="mono small">{r.workflowId}</span>}</td>
              </tr>
            );
          })}</tbody>
        </table>
      )}
    </>
  );
}

export function SchedulesPage(props: { temporal?: DashboardConfig }) {
  const qc = useQueryClient();
  const schedules = useQuery({ queryKey: ['schedule-views'], queryFn: () => getJson('/api/v1/schedules', scheduleListResponse), refetchInterval: 10_000 });
  const [open, setOpen] = useState<string | null>(null);
  const act = useMutation({
    mutationFn: ({ id, what }: { id: string; what: 'pause' | 'resume' | 'trigger' }) => sendJson('POST', `/api/v1/schedules/${id}/${what}`, {}, z.unknown()),
    onSuccess: () => { void qc.invalidateQueries({ queryKey: ['schedule-views'] }); void qc.invalidateQueries({ queryKey: ['rollouts'] }); },
  });
  if (schedules.isPending) return <Loading />;
  if (schedules.error) return <ErrorBox error={schedules.error} />;
  return (
    <>
      <PageHead title="Schedules and rollouts" subtitle="Scans and automatic updates on Temporal Schedules; each run is a rollout workflow." />
      <ErrorBox error={act.error} />
      {schedules.data.schedules.length === 0 ? <Card title="Schedules"><Empty>No schedule yet (POST /api/v1/schedules).</Empty></Card> : schedules.data.schedules.map((s) => (
        <Card key={s.id} title={s.name} testId={`schedule-${s.name}`} actions={<>
          <span className={`badge ${s.paused ? 'badge-ignored' : 'badge-installed'}`}>{s.paused ? 'Paused' : 'Active'}</span>
          {s.paused ? <button onClick={() => act.mutate({ id: s.id, what: 'resume' })}>Resume</button> : <button onClick={() => act.mutate({ id: s.id, what: 'pause' })}>Pause</button>}
          <button className="primary" onClick={() => act.mutate({ id: s.id, what: 'trigger' })}>Run now</button>
          <button onClick={() => setOpen(open === s.id ? null : s.id)}>{open === s.id ? 'Hide runs' : 'Runs'}</button>
        </>}>
          <div className="form-grid">
            <div className="field"><label>Kind</label>{s.kind === 'scan' ? 'Scan' : s.kbs ? <span>Per-patch: <strong>{s.kbs.join(', ')}</strong></span> : 'Automatic update'}</div>
            <div className="field"><label>When</label>{s.description}</div>
            <div className="field"><label>Next runs</label>{s.paused ? <span className="muted">paused</span> : s.nextRunTimes.slice(0, 3).map((t) => <span key={t}>{when(t)}</span>)}</div>
            <div className="field"><label>Reboot</label>{s.rebootActionText}{s.maintenanceWindowText && <span className="muted small">{s.maintenanceWindowText}</span>}</div>
          </div>
          {open === s.id && <Rollouts scheduleId={s.id} temporal={props.temporal} />}
        </Card>
      ))}
    </>
  );
}
