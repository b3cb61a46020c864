import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Who is acting in the current request, and from where: set once by the operators' authentication,
 * read by appendAudit so that every audit row a request writes names the person, their key and the
 * source address without each handler passing them on.
 */
export interface AuditContext {
  userName?: string;
  keyId?: string;
  keyName?: string;
  sourceIp?: string;
}

const storage = new AsyncLocalStorage<AuditContext>();

export function runWithAuditContext<T>(context: AuditContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function currentAuditContext(): AuditContext | undefined {
  return storage.getStore();
}
