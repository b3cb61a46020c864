import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { z } from 'zod';
import { catalogPatchesResponse, patchStatusCountsResponse, policiesResponse, policySummaryResponse, type CatalogPatch } from '../../../api/dashboard-schemas';
import { approvalByPatchSchema, defaultSchema } from '../../../api/policy-schemas';
import { getJson, sendJson } from '../api';
import { Badge, Card, Empty, ErrorBox, Loading, PageHead } from '../ui';

type ApprovalStatus = 'approved' | 'pending_approval' | 'denied';
const NEXT_DEFAULT: Record<ApprovalStatus, ApprovalStatus> = { approved: 'denied', denied: 'pending_approval', pending_approval: 'approved' };
const approvalAnswer = z.object({ status: z.string(), patches: z.number() }).loose();

export const usePatchStatusCounts = () => useQuery({ queryKey: ['patch-status-counts'], queryFn: () => getJson('/api/v1/fleet/patch-status-counts', patchStatusCountsResponse) });

/** "3 missing · 1 installed": a patch's statuses across the devices where it was found. */
export function DeviceSummary(props: { counts?: Partial<Record<string, number>> }) {
  const entries = Object.entries(props.counts ?? {}).filter(([, n]) => n);
  if (entries.length === 0) return <span className="muted small">not found on any device</span>;
  return <span className="small">{entries.map(([s, n]) => <span key={s} className="devsum"><Badge status={s} /> {n}</span>)}</span>;
}

function PolicyStatus(props: { patch: CatalogPatch }) {
  const p = props.patch;
  if (!p.approval) return <span className="muted small">no policy</span>;
  return (
    <span title={p.policies.map((x) => `${x.policyName}: ${x.status} (${x.source})`).join('\n')}>
      <Badge status={p.approval} /> {p.approval === 'mixed' && <span className="muted small">{p.policies.map((x) => `${x.policyName}: ${x.status.replace('_', ' ')}`).join(' · ')}</span>}
      {p.kbOverride && <span className="muted small"> KB override: {p.kbOverride.replace('_', ' ')}</span>}
    </span>
  );
}

function PolicySummaryTable() {
  const qc = useQueryClient();
  const policies = useQuery({ queryKey: ['policies'], queryFn: () => getJson('/api/v1/policies', policiesResponse) });
  const [policyId, setPolicyId] = useState('');
  const [groupBy, setGroupBy] = useState<'classification' | 'product'>('classification');
  const chosen = policyId || policies.data?.policies[0]?.id || '';
  const summary = useQuery({
    queryKey: ['policy-summary', chosen, groupBy], enabled: chosen !== '',
    queryFn: () => getJson(`/api/v1/policies/${chosen}/summary?groupBy=${groupBy}`, policySummaryResponse),
  });
  const change = useMutation({
    mutationFn: (v: z.input<typeof defaultSchema>) => sendJson('PUT', `/api/v1/policies/${chosen}/defaults`, defaultSchema.parse(v), z.object({}).loose()),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['policy-summary'] }),
  });
  return (
    <Card
      title="Patch approval policy status"
      testId="policy-summary"
      actions={<>
        <select aria-label="policy" value={chosen} onChange={(e) => setPolicyId(e.target.value)}>
          {policies.data?.policies.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
        </select>
        <select aria-label="group by" value={groupBy} onChange={(e) => setGroupBy(e.target.value as 'classification' | 'product')}>
          <option value="classification">by classification</option>
          <option value="product">by product</option>
        </select>
      </>}
    >
      {policies.data?.policies.length === 0 ? <Empty>No approval policies yet (POST /api/v1/policies).</Empty> : summary.isPending ? <Loading /> : summary.error ? <ErrorBox error={summary.error} /> : (
        <>
          <ErrorBox error={change.error} />
          <table className="grid">
            <thead><tr><th>{groupBy === 'product' ? 'Product' : 'Classification'}</th><th className="num">Approved</th><th className="num">Denied</th><th className="num">Pending Approval</th><th className="num">Totals</th><th>Default approval status</th></tr></thead>
            <tbody>
              {summary.data.rows.map((r) => (
                <tr key={r.key} data-testid={`summary-${r.key}`}>
                  <td>{r.key}</td><td className="num">{r.approved}</td><td className="num">{r.denied}</td><td className="num">{r.pendingApproval}</td><td className="num">{r.total}</td>
                  <td className="clickable" title="Click to change the default for patches discovered from now on"
                    onClick={() => change.mutate({ kind: groupBy, key: r.key, status: NEXT_DEFAULT[r.defaultStatus] })}>
                    <Badge status={r.defaultStatus} /> {r.defaultFrom === 'fallback' && <span className="muted small">(policy fallback)</span>}
                  </td>
                </tr>
              ))}
              <tr className="group-row"><td>Totals</td><td className="num">{summary.data.totals.approved}</td><td className="num">{summary.data.totals.denied}</td><td className="num">{summary.data.totals.pendingApproval}</td><td className="num">{summary.data.totals.total}</td><td /></tr>
            </tbody>
          </table>
          <p className="fine pad">A click on a default cycles it (Approved → Denied → Pending Approval). A new default applies to patches discovered from now on; known patches keep their status, as Kaseya does.</p>
        </>
      )}
    </Card>
  );
}

export function ApprovalsPage() {
  const qc = useQueryClient();
  const [filters, setFilters] = useState({ name: '', kb: '', classification: '', product: '', severity: '', status: '' });
  const set = (k: keyof typeof filters) => (e: { target: { value: string } }) => setFilters({ ...filters, [k]: e.target.value });
  const all = useQuery({ queryKey: ['patches-all'], queryFn: () => getJson('/api/v1/patches', catalogPatchesResponse) });
  const query = new URLSearchParams(Object.entries(filters).filter(([k, v]) => v && k !== 'severity') as [string, string][]);
  const patches = useQuery({ queryKey: ['patches', query.toString()], queryFn: () => getJson(`/api/v1/patches?${query}`, catalogPatchesResponse) });
  const counts = usePatchStatusCounts();
  const countsById = useMemo(() => new Map(counts.data?.patches.map((p) => [p.updateId, p.counts]) ?? []), [counts.data]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [notice, setNotice] = useState<string | null>(null);
  // Severity is filtered here: the catalog route filters by name, KB, classification, product and status.
  const rows = (patches.data?.patches ?? []).filter((p) => !filters.severity || p.severity === filters.severity);
  const distinct = (f: (p: CatalogPatch) => string) => [...new Set((all.data?.patches ?? []).map(f))].sort();
  const bulk = useMutation({
    mutationFn: (status: ApprovalStatus) => sendJson('PUT', '/api/v1/patches/approval', approvalByPatchSchema.parse({ updateIds: [...selected], status }), approvalAnswer),
    onSuccess: (r) => {
      setNotice(`${r.patches} patch(es) set to ${r.status.replace('_', ' ')} in all policies`);
      setSelected(new Set());
      void qc.invalidateQueries({ queryKey: ['patches'] });
      void qc.invalidateQueries({ queryKey: ['policy-summary'] });
    },
  });
  const toggle = (id: string) => { const s = new Set(selected); if (s.has(id)) s.delete(id); else s.add(id); setSelected(s); };
  return (
    <>
      <PageHead title="Approvals" subtitle="Approval by patch: the catalog, each patch's status in every policy, and the devices where it was found." />
      {notice && <div className="notice" data-testid="notice">{notice}</div>}
      <Card title="Catalog" testId="catalog">
        <div className="filters">
          <div><label htmlFor="f-name">Name</label><input id="f-name" value={filters.name} onChange={set('name')} placeholder="part of the title" /></div>
          <div><label htmlFor="f-kb">KB</label><input id="f-kb" value={filters.kb} onChange={set('kb')} placeholder="KB5034441" /></div>
          <div><label htmlFor="f-cls">Classification</label><select id="f-cls" value={filters.classification} onChange={set('classification')}><option value="">any</option>{distinct((p) => p.classification).map((c) => <option key={c}>{c}</option>)}</select></div>
          <div><label htmlFor="f-prod">Product</label><select id="f-prod" value={filters.product} onChange={set('product')}><option value="">any</option>{distinct((p) => p.product).map((c) => <option key={c}>{c}</option>)}</select></div>
          <div><label htmlFor="f-sev">Severity</label><select id="f-sev" value={filters.severity} onChange={set('severity')}><option value="">any</option>{distinct((p) => p.severity).map((c) => <option key={c}>{c}</option>)}</select></div>
          <div><label htmlFor="f-status">Status</label><select id="f-status" value={filters.status} onChange={set('status')}><option value="">any</option><option value="approved">Approved</option><option value="pending_approval">Pending Approval</option><option value="denied">Denied</option><option value="mixed">Mixed</option></select></div>
          <button onClick={() => setFilters({ name: '', kb: '', classification: '', product: '', severity: '', status: '' })}>Clear</button>
        </div>
        <div className="bulkbar">
          <strong data-testid="selected-count">{selected.size}</strong> selected
          <button className="primary" disabled={selected.size === 0 || bulk.isPending} onClick={() => bulk.mutate('approved')}>Approve</button>
          <button disabled={selected.size === 0 || bulk.isPending} onClick={() => bulk.mutate('denied')}>Deny</button>
          <button disabled={selected.size === 0 || bulk.isPending} onClick={() => bulk.mutate('pending_approval')}>Pending</button>
          <span className="muted small">sets the status in ALL policies</span>
        </div>
        <ErrorBox error={bulk.error ?? patches.error} />
        {patches.isPending ? <Loading /> : rows.length === 0 ? <Empty>No patch matches these filters.</Empty> : (
          <table className="grid">
            <thead><tr>
              <th><input type="checkbox" aria-label="select all" checked={rows.length > 0 && rows.every((p) => selected.has(p.updateId))} onChange={(e) => setSelected(e.target.checked ? new Set(rows.map((p) => p.updateId)) : new Set())} /></th>
              <th>Patch</th><th>Classification</th><th>Product</th><th>Severity</th><th>Status by policy</th><th>Devices</th>
            </tr></thead>
            <tbody>
              {rows.map((p) => (
                <tr key={p.updateId} className={selected.has(p.updateId) ? 'selected' : ''} data-testid={`row-${p.kb}`}>
                  <td><input type="checkbox" aria-label={`select ${p.kb}`} checked={selected.has(p.updateId)} onChange={() => toggle(p.updateId)} /></td>
                  <td><strong>{p.kb}</strong><div className="muted small">{p.title}</div></td>
                  <td>{p.classification}</td><td>{p.product}</td><td>{p.severity}</td>
                  <td data-testid="approval"><PolicyStatus patch={p} /></td>
                  <td><DeviceSummary counts={countsById.get(p.updateId)} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <PolicySummaryTable />
    </>
  );
}
