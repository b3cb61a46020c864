import { useEffect, useState, type MouseEvent, type ReactNode } from 'react';

// A router of a few lines: paths in the address bar (history.pushState), so each page has a URL an
// operator can bookmark or share; the server answers index.html for each of them.

export function navigate(to: string): void {
  history.pushState(null, '', to);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function useLocation(): { path: string; query: URLSearchParams } {
  const [loc, setLoc] = useState(() => ({ path: location.pathname, search: location.search }));
  useEffect(() => {
    const on = () => setLoc({ path: location.pathname, search: location.search });
    window.addEventListener('popstate', on);
    return () => window.removeEventListener('popstate', on);
  }, []);
  return { path: loc.path, query: new URLSearchParams(loc.search) };
}

export function Link(props: { to: string; children: ReactNode; className?: string; title?: string; testId?: string }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(props.to);
  };
  return <a href={props.to} onClick={onClick} className={props.className} title={props.title} data-testid={props.testId}>{props.children}</a>;
}
