import type { Response } from 'express';
import type { Queryable } from '../db/database';
import { scopeTenancy, type Tenancy } from '../db/tenancy-repository';
import { NotFoundError } from '../domain/errors';
import { principalSees, type Principal } from '../domain/roles';
import { HttpError } from './errors';

/** The authenticated principal of an operators' request (api/operator-auth.ts sets it). */
export function principalOf(res: Response): Principal {
  const p = res.locals.principal as Principal | undefined;
  if (!p) throw new Error('operators\' route reached without authentication');
  return p;
}

/** The clients this request's key sees: `'all'` or a list (for filtering lists). */
export const visibleClients = (res: Response): 'all' | readonly string[] => principalOf(res).clients;

/** Keeps the items a key may see; `tenancyOf` says which clients each belongs to. */
export async function filterVisible<T>(res: Response, items: T[], tenancyOf: (item: T) => Promise<Tenancy> | Tenancy): Promise<T[]> {
  const p = principalOf(res);
  if (p.clients === 'all') return items;
  const seen = await Promise.all(items.map(async (i) => {
    const t = await tenancyOf(i);
    return t !== undefined && principalSees(p, t);
  }));
  return items.filter((_, i) => seen[i]);
}

/**
 * Refuses a tenancy this key may not reach: another tenant's thing is a 404 named like an unknown
 * one, so its id does not leak; something spanning every client is a 403 for a key with a client list.
 */
export function assertReachable(res: Response, tenancy: Tenancy, what: string, id: string): void {
  const p = principalOf(res);
  if (tenancy === undefined || principalSees(p, tenancy)) return;
  if (tenancy === 'all') {
    res.locals.refusal = 'spans clients';
    throw new HttpError(403, `${what} ${id || '(all)'} spans every client: only a key for all clients may use it`);
  }
  res.locals.refusal = 'other tenant';
  throw new NotFoundError(what, id);
}

/** The same check for a scope named in a body (a scan's, an action's, a schedule's or a member's). */
export async function assertScopeReachable(db: Queryable, res: Response, scopeType: string, scopeId: string | undefined): Promise<void> {
  if (principalOf(res).clients === 'all') return;
  assertReachable(res, await scopeTenancy(db, scopeType, scopeId ?? ''), scopeType, scopeId ?? '');
}
