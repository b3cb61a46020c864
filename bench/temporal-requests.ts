import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/**
 * What the Temporal server was asked to do, from its own Prometheus endpoint: `service_requests` of its
 * frontend (every gRPC call a client or worker made, by operation), outside its own `temporal_system`
 * namespace; the calls the frontend makes on to history and matching are not counted again. Taken before and
 * after a phase, the difference says which calls a device install costs the server, and so where its CPU
 * goes: heartbeats, queries, polls, completions.
 */
export type RequestCounts = Map<string, number>;

export async function temporalRequestCounts(metricsUrl: string): Promise<RequestCounts> {
  const res = await fetch(metricsUrl);
  if (!res.ok) throw new Error(`${metricsUrl}: ${res.status}`);
  return requestCountsOf(await res.text());
}

/** Pure: the frontend's `service_requests` by operation, from the exposition text. */
export function requestCountsOf(text: string): RequestCounts {
  const out: RequestCounts = new Map();
  const family = parsePrometheusTextFormat(text).find((f) => f.name === 'service_requests');
  for (const m of family?.metrics ?? []) {
    if (m.labels?.service_name !== 'frontend' || m.labels.namespace === 'temporal_system') continue;
    const op = m.labels?.operation ?? '?';
    out.set(op, (out.get(op) ?? 0) + Number(m.value));
  }
  return out;
}

/** The calls made between two snapshots, per unit (device), largest first: "40.1 in all: RecordActivityTaskHeartbeat 12.0, …". */
export function requestsPerUnitLine(before: RequestCounts, after: RequestCounts, units: number, top = 12): string {
  const rows = [...after].map(([op, n]) => [op, (n - (before.get(op) ?? 0)) / units] as const).filter(([, n]) => n > 0);
  rows.sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((a, [, n]) => a + n, 0);
  return `${total.toFixed(1)} in all: ${rows.slice(0, top).map(([op, n]) => `${op} ${n.toFixed(1)}`).join(', ')}`;
}
