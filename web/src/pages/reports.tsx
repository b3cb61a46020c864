import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { z } from 'zod';
import { clientsResponse, reportsResponse } from '../../../api/dashboard-schemas';
import { patchOverviewQuery } from '../../../api/report-schemas';
import { ALL_PATCH_STATUSES } from '../../../domain/patch-status';
import { statusLabel } from '../../../domain/patch-overview';
import { download, getJson } from '../api';
import { Card, Empty, ErrorBox, Loading, PageHead, when } from '../ui';

const FORMATS = [
  { value: 'html', label: 'HTML' }, { value: 'csv', label: 'CSV' }, { value: 'csv-offline', label: 'CSV - Offline Mode' },
  { value: 'xml', label: 'XML' }, { value: 'json', label: 'JSON' },
] as const;
// The report's statuses as the seed lists them (Superseded is a status, not a report filter there).
const REPORT_STATUSES = ALL_PATCH_STATUSES.filter((s) => s !== 'superseded');

export function ReportsPage() {
  const qc = useQueryClient();
  const clients = useQuery({ queryKey: ['clients'], queryFn: () => getJson('/api/v1/clients', clientsResponse) });
  const reports = useQuery({
    queryKey: ['reports'], queryFn: () => getJson('/api/v1/reports?limit=50', reportsResponse),
    refetchInterval: (q) => (q.state.data?.reports.some((r) => r.state !== 'done' && r.state !== 'failed') ? 1_500 : 10_000),
  });
  const [form, setForm] = useState({ clientId: '', format: 'csv', groupBy: 'patch', statuses: [] as string[] });
  const [notice, setNotice] = useState<string | null>(null);
  const run = useMutation({
    mutationFn: async () => {
      // Checked with the API's own query schema before the request: a bad value is named here.
      const q = { ...(form.clientId ? { clientId: form.clientId } : {}), format: form.format, groupBy: form.groupBy, ...(form.statuses.length ? { status: form.statuses.join(',') } : {}) };
      patchOverviewQuery.parse(q);
      const url = `/api/v1/reports/patch-overview?${new URLSearchParams(q)}`;
      if (form.format === 'csv-offline') {
        // The same route answers 202 with the report it started (state, Location).
        await getJson(url, z.object({ id: z.string(), state: z.string() }).loose());
        return 'offline';
      }
      await download(url, `patch-overview.${form.format}`);
      return 'downloaded';
    },
    onSuccess: (r) => { setNotice(r === 'offline' ? 'Offline report started: it shows below, with a download link once written.' : 'Report downloaded.'); void qc.invalidateQueries({ queryKey: ['reports'] }); },
  });
  const submit = (e: FormEvent) => { e.preventDefault(); setNotice(null); run.mutate(); };
  const toggle = (s: string) => setForm({ ...form, statuses: form.statuses.includes(s) ? form.statuses.filter((x) => x !== s) : [...form.statuses, s] });
  return (
    <>
      <PageHead title="Reports" subtitle="The Patch Overview Report: one row per device and patch, with status, install date, exit code and last scan." />
      {notice && <div className="notice" data-testid="notice">{notice}</div>}
      <Card title="Patch Overview Report" testId="report-form">
        <form onSubmit={submit}>
          <div className="form-grid">
            <div className="field"><label htmlFor="r-client">Client</label>
              <select id="r-client" value={form.clientId} onChange={(e) => setForm({ ...form, clientId: e.target.value })}>
                <option value="">All clients</option>
                {clients.data?.clients.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
              </select></div>
            <div className="field"><label htmlFor="r-format">Format</label>
              <select id="r-format" value={form.format} onChange={(e) => setForm({ ...form, format: e.target.value })}>
                {FORMATS.map((f) => <option key={f.value} value={f.value}>{f.label}</option>)}
              </select></div>
            <div className="field"><label htmlFor="r-group">Group by</label>
              <select id="r-group" value={form.groupBy} onChange={(e) => setForm({ ...form, groupBy: e.target.value })}>
                <option value="patch">Patch</option><option value="device">Device</option>
              </select></div>
            <div className="field"><label>Statuses <span className="muted small">(none: all)</span></label>
              <div className="checks">{REPORT_STATUSES.map((s) => <label key={s}><input type="checkbox" checked={form.statuses.includes(s)} onChange={() => toggle(s)} />{statusLabel(s)}</label>)}</div></div>
          </div>
          <div className="wizard-foot"><span className="muted small">CSV, XML, HTML and JSON stream at once; CSV - Offline Mode is written in the background (workflow report/&lt;id&gt;).</span>
            <button type="submit" className="primary" disabled={run.isPending}>{run.isPending ? 'Working…' : form.format === 'csv-offline' ? 'Start offline report' : 'Download'}</button></div>
        </form>
        <ErrorBox error={run.error} />
      </Card>
      <Card title="Offline reports" testId="offline-reports">
        {reports.isPending ? <Loading /> : reports.error ? <ErrorBox error={reports.error} /> : reports.data.reports.length === 0 ? <Empty>No offline report yet.</Empty> : (
          <table className="grid">
            <thead><tr><th>Requested</th><th>By</th><th>State</th><th className="num">Rows</th><th>Finished</th><th>File</th></tr></thead>
            <tbody>
              {reports.data.reports.map((r) => (
                <tr key={r.id} data-testid="report-row">
                  <td>{when(r.requestedAt)}</td><td>{r.requestedBy}</td>
                  <td><span className={`badge badge-report-${r.state}`}>{r.state}{r.percent !== null && r.state !== 'done' ? ` ${r.percent}%` : ''}</span></td>
                  <td className="num">{r.rowsWritten}</td><td>{when(r.finishedAt)}</td>
                  <td>{r.download ? <button className="link-button" onClick={() => void download(r.download!, `${r.id}.csv`)}>Download CSV</button> : r.error ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </>
  );
}
