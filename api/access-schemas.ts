import { z } from 'zod';
import { ROLES_IN_ORDER, type Role } from '../domain/roles';

const uuid = z.string().uuid('must be a UUID');
const name = z.string().trim().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9 ._@-]*$/, 'letters, digits, space, ".", "_", "@" or "-"');

export const createUserSchema = z.object({
  name,
  role: z.enum(ROLES_IN_ORDER as [Role, ...Role[]]),
}).strict();

export const createKeySchema = z.object({
  name,
  /** "all", or the clients this key may see */
  clients: z.union([z.literal('all'), z.array(uuid).min(1).max(1000)]).default('all'),
  /** when the key stops working; default 90 days from now (null: never) */
  expiresAt: z.iso.datetime({ offset: true }).nullable().optional(),
}).strict();

export const userIdParam = z.object({ userId: z.string().min(1).max(100) });
export const keyIdParam = z.object({ keyId: z.string().regex(/^([a-z0-9]{12}|bootstrap)$/, 'must be a key id (12 lower-case letters and digits)') });

/** A role or tenant refusal (403): the role it needs, or that it spans every client. */
export const forbiddenResponse = z.object({ error: z.string() });
/** Another tenant's id reads like an unknown one (404). */
export const notFoundResponse = z.object({ error: z.string(), type: z.literal('NotFound').optional() });

const roleSchema = z.enum(ROLES_IN_ORDER as [Role, ...Role[]]);
export const userResponse = z.object({ id: z.string().uuid(), name: z.string(), role: roleSchema, createdAt: z.string(), createdBy: z.string() });
/** A key as it is listed: never its secret or hash. */
export const apiKeyResponse = z.object({
  keyId: z.string(), userId: z.string().uuid(), userName: z.string(), role: roleSchema, name: z.string(),
  clientIds: z.array(z.string().uuid()).nullable(), expiresAt: z.string().nullable(), revokedAt: z.string().nullable(), revokedBy: z.string().nullable(),
  lastUsedAt: z.string().nullable(), lastUsedIp: z.string().nullable(), createdAt: z.string(), createdBy: z.string(),
});
/** 201 of key creation: the key itself, this once. */
export const mintedKeyResponse = apiKeyResponse.extend({ key: z.string() });
export const whoamiResponse = z.object({
  user: z.string(), role: roleSchema, keyId: z.string(), keyName: z.string(), clients: z.union([z.literal('all'), z.array(z.string().uuid())]),
});
