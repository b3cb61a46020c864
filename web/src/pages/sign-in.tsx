import { useState, type FormEvent } from 'react';
import { dashboardConfigResponse, loginCodeResponse } from '../../../api/dashboard-schemas';
import { getJson, sendJson, session } from '../api';

/** Reads `#login=<code>` (the link npm start prints), drops it from the URL, trades it for the key. */
export async function exchangeLoginFragment(): Promise<'signed-in' | string | null> {
  const m = /^#login=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (!m) return null;
  history.replaceState(null, '', location.pathname + location.search);
  try {
    const { apiKey } = await sendJson('POST', '/dashboard/login', { code: m[1] }, loginCodeResponse);
    session.set(apiKey);
    return 'signed-in';
  } catch (err) {
    return `This sign-in link cannot be used (${(err as Error).message}). Paste the API key instead.`;
  }
}

export function SignIn(props: { notice: string | null; onSignedIn: () => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    session.set(key.trim());
    try {
      await getJson('/api/v1/dashboard/config', dashboardConfigResponse);
      props.onSignedIn();
    } catch (err) {
      session.clear();
      setError((err as Error).message.includes('401') ? 'That API key is not valid.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="signin">
      <form className="signin-box" onSubmit={submit}>
        <div className="brand big"><span className="brand-mark">◆</span> Patchflow</div>
        <p className="muted">Patch remediation for your fleet. Sign in with an operator API key.</p>
        {props.notice && <div className="error">{props.notice}</div>}
        <label htmlFor="api-key">API key</label>
        <input id="api-key" name="api-key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} placeholder="paste the key (npm start: .data/api-key)" autoFocus />
        {error && <div className="error" role="alert">{error}</div>}
        <button type="submit" className="primary" disabled={busy || key.trim() === ''}>{busy ? 'Signing in…' : 'Sign in'}</button>
        <p className="fine">The key stays in this tab only (session storage) and is sent as a bearer token; it never appears in a URL.</p>
      </form>
    </div>
  );
}
