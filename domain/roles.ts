/**
 * Operators' roles, each including the ones below it (issue 12.1):
 * viewer reads; operator also scans, installs, runs Initial Update and cancels; approver also
 * approves, denies and ignores patches and edits policies and schedules; admin also manages users,
 * keys, clients, sites and devices.
 */
export const Role = {
  /** reads everything its key's clients hold */
  Viewer: 'viewer',
  /** scans, installs, runs Initial Update, cancels */
  Operator: 'operator',
  /** approves, denies and ignores patches; edits policies and schedules */
  Approver: 'approver',
  /** manages users, keys, clients, sites and devices */
  Admin: 'admin',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export const ROLES_IN_ORDER: readonly Role[] = [Role.Viewer, Role.Operator, Role.Approver, Role.Admin];

/** True when `held` is `needed` or above it. */
export function roleAllows(held: Role, needed: Role): boolean {
  return ROLES_IN_ORDER.indexOf(held) >= ROLES_IN_ORDER.indexOf(needed);
}

/**
 * Who is calling: a person's key, with the clients it may see (`'all'`, or a list of client ids).
 * Carried by every operators' request once authenticated.
 */
export interface Principal {
  userId: string;
  userName: string;
  role: Role;
  keyId: string;
  keyName: string;
  clients: 'all' | readonly string[];
}

/** The audit actor of a principal: the person and the key they used. */
export function actorOf(p: Pick<Principal, 'userName' | 'keyName'>): string {
  return `user:${p.userName}/key:${p.keyName}`;
}

/**
 * Whether a principal may see something that belongs to `clients` (`'all'`: it spans every client,
 * or no client at all, like a policy without members): a key for all clients sees everything; a
 * key for some clients sees only what lies wholly within them.
 */
export function principalSees(p: Pick<Principal, 'clients'>, clients: 'all' | readonly string[]): boolean {
  if (p.clients === 'all') return true;
  if (clients === 'all' || clients.length === 0) return false;
  const mine = p.clients;
  return clients.every((c) => mine.includes(c));
}
