import { QueryClient, QueryClientProvider, useQuery } from '@tanstack/react-query';
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { dashboardConfigResponse } from '../../api/dashboard-schemas';
import { getJson, session } from './api';
import { Link, navigate, useLocation } from './router';
import { SignIn, exchangeLoginFragment } from './pages/sign-in';
import { FleetPage, FleetListPage } from './pages/fleet';
import { DevicePage } from './pages/device';
import { ApprovalsPage } from './pages/approvals';
import { ReportsPage } from './pages/reports';
import { SchedulesPage } from './pages/schedules';
import { WizardPage } from './pages/wizard';
import { HaltBanner } from './halt-banner';

const queryClient = new QueryClient({ defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false, staleTime: 2_000 } } });

const NAV = [
  { to: '/fleet', label: 'Fleet' },
  { to: '/approvals', label: 'Approvals' },
  { to: '/wizard', label: 'Patch Management' },
  { to: '/schedules', label: 'Schedules' },
  { to: '/reports', label: 'Reports' },
];

function Shell() {
  const { path } = useLocation();
  const config = useQuery({ queryKey: ['config'], queryFn: () => getJson('/api/v1/dashboard/config', dashboardConfigResponse) });
  let page;
  const device = /^\/devices\/([0-9a-f-]{36})$/.exec(path);
  if (device) page = <DevicePage deviceId={device[1]} temporal={config.data} />;
  else if (path === '/fleet/list') page = <FleetListPage />;
  else if (path.startsWith('/approvals')) page = <ApprovalsPage />;
  else if (path.startsWith('/wizard')) page = <WizardPage />;
  else if (path.startsWith('/reports')) page = <ReportsPage />;
  else if (path.startsWith('/schedules')) page = <SchedulesPage temporal={config.data} />;
  else page = <FleetPage />;
  const signOut = () => { session.clear(); queryClient.clear(); window.dispatchEvent(new Event('patchflow:signed-out')); };
  return (
    <div className="shell">
      <aside className="sidebar">
        <div className="brand"><span className="brand-mark">◆</span> Patchflow</div>
        <nav>
          {NAV.map((n) => (
            <Link key={n.to} to={n.to} className={path.startsWith(n.to) || (n.to === '/fleet' && (path === '/' || path.startsWith('/devices'))) ? 'active' : ''}>{n.label}</Link>
          ))}
        </nav>
        <div className="sidebar-foot">
          {config.data?.temporalUiUrl && <a href={`${config.data.temporalUiUrl}/namespaces/${config.data.namespace}/workflows`} target="_blank" rel="noreferrer">Temporal Web UI ↗</a>}
          <div className="who" data-testid="signed-in-as">{config.data?.actor ?? ''}</div>
          <button className="link" onClick={signOut}>Sign out</button>
        </div>
      </aside>
      <main className="content"><HaltBanner />{page}</main>
    </div>
  );
}

function App() {
  const [signedIn, setSignedIn] = useState(() => session.key() !== null);
  const [exchange, setExchange] = useState<string | null>(null);
  useEffect(() => {
    // A login link's one-time code is read from the fragment (never sent in a request line, so no
    // server or proxy logs it) and replaced at once, so it does not stay in the history either.
    exchangeLoginFragment().then((r) => {
      if (r === 'signed-in') setSignedIn(true);
      else if (r) setExchange(r);
    }, (err: Error) => setExchange(err.message));
    const out = () => setSignedIn(false);
    window.addEventListener('patchflow:signed-out', out);
    return () => window.removeEventListener('patchflow:signed-out', out);
  }, []);
  if (!signedIn) return <SignIn notice={exchange} onSignedIn={() => { setSignedIn(true); if (location.pathname === '/sign-in') navigate('/fleet'); }} />;
  return <Shell />;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}><App /></QueryClientProvider>
  </StrictMode>,
);
