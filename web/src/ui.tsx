import type { ReactNode } from 'react';
import { statusLabel } from '../../domain/patch-overview';

export function Badge(props: { status: string }) {
  return <span className={`badge badge-${props.status}`}>{statusLabel(props.status)}</span>;
}

export function Card(props: { title: string; children: ReactNode; actions?: ReactNode; testId?: string }) {
  return (
    <section className="card" data-testid={props.testId}>
      <header className="card-head"><h2>{props.title}</h2>{props.actions && <div className="card-actions">{props.actions}</div>}</header>
      <div className="card-body">{props.children}</div>
    </section>
  );
}

export function PageHead(props: { title: string; subtitle?: ReactNode; actions?: ReactNode }) {
  return (
    <div className="page-head">
      <div><h1>{props.title}</h1>{props.subtitle && <p className="subtitle">{props.subtitle}</p>}</div>
      {props.actions && <div className="page-actions">{props.actions}</div>}
    </div>
  );
}

export function Empty(props: { children: ReactNode }) {
  return <div className="empty">{props.children}</div>;
}

export function ErrorBox(props: { error: unknown }) {
  if (!props.error) return null;
  return <div className="error" role="alert">{props.error instanceof Error ? props.error.message : String(props.error)}</div>;
}

export function Loading() {
  return <div className="loading">Loading…</div>;
}

export const when = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '—');

export function ago(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

export function Percent(props: { value: number }) {
  const tone = props.value >= 95 ? 'good' : props.value >= 80 ? 'warn' : 'bad';
  return (
    <span className={`pct pct-${tone}`}>
      <span className="pct-bar"><span style={{ width: `${props.value}%` }} /></span>
      <span className="pct-num">{props.value.toFixed(1)}%</span>
    </span>
  );
}
