import { useQuery } from '@tanstack/react-query';
import { haltStateResponse } from '../../api/halt-schemas';
import { ApiError, getJson } from './api';
import { ago, when } from './ui';

/**
 * The kill switch in force, on every page: operators' fleet halts (all patches, or one KB) and
 * rollouts' automatic halts, each saying who, since when and why. GET /api/v1/halt is for all-client
 * keys: a key of some clients only gets 403, and then the banner is simply not shown.
 */
export function HaltBanner() {
  const state = useQuery({
    queryKey: ['halt'],
    queryFn: () => getJson('/api/v1/halt', haltStateResponse),
    refetchInterval: 5_000,
    retry: (n, err) => !(err instanceof ApiError && err.status === 403) && n < 1,
  });
  const s = state.data;
  if (!s || (s.active.length === 0 && s.automatic.active.length === 0)) return null;
  const all = s.active.find((h) => h.kb === null);
  const kbs = s.active.filter((h) => h.kb !== null);
  return (
    <div className="halt-banner" role="alert" data-testid="halt-banner">
      {all && (
        <div className="halt-line" data-testid="halt-operator" data-source="operator">
          <strong>Kill switch: every patch is halted fleet-wide.</strong> No rollout or release starts another device.
          <div className="halt-meta">Operator halt by <span data-testid="halt-by">{all.haltedBy}</span> since <span title={when(all.haltedAt)}>{when(all.haltedAt)} ({ago(all.haltedAt)})</span>: <span data-testid="halt-reason">{all.reason}</span> · resume: <code>patchflow resume --all</code></div>
        </div>
      )}
      {kbs.map((h) => (
        <div className="halt-line" key={h.id} data-testid="halt-operator-kb" data-source="operator">
          <strong>{h.kb} is halted fleet-wide.</strong> Devices leave it out of their installs.
          <div className="halt-meta">Operator halt by {h.haltedBy} since {when(h.haltedAt)} ({ago(h.haltedAt)}): {h.reason} · resume: <code>patchflow resume --patch {h.kb}</code></div>
        </div>
      ))}
      {s.automatic.active.map((h) => (
        <div className="halt-line halt-automatic" key={h.workflowId} data-testid="halt-automatic" data-source="automatic">
          <strong>Automatic halt: {h.scheduleName} stopped itself.</strong> Its rollout starts no more devices until an operator resumes it.
          <div className="halt-meta">{h.haltedBy} since {when(h.haltedAt)} ({ago(h.haltedAt)}): {h.reason} · resume: <code>patchflow resume --rollout {h.workflowId}</code></div>
        </div>
      ))}
    </div>
  );
}
