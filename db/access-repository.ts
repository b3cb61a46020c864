import { randomUUID } from 'node:crypto';
import type { Queryable } from './database';
import type { Role } from '../domain/roles';

export interface UserRow { id: string; name: string; role: Role; createdAt: string; createdBy: string }

export interface ApiKeyRow {
  keyId: string;
  userId: string;
  userName: string;
  role: Role;
  name: string;
  /** null: every client */
  clientIds: string[] | null;
  expiresAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  lastUsedAt: string | null;
  lastUsedIp: string | null;
  createdAt: string;
  createdBy: string;
}

/** An API key row with its hash, for authentication only: never answered to anyone. */
export interface StoredKey extends ApiKeyRow { secretHash: string }

const iso = (d: Date | null) => (d ? d.toISOString() : null);

const toUser = (r: Record<string, any>): UserRow => ({ id: r.id, name: r.name, role: r.role, createdAt: r.created_at.toISOString(), createdBy: r.created_by });

const KEY_SELECT = `
  SELECT k.key_id, k.user_id, u.name AS user_name, u.role, k.name, k.client_ids, k.expires_at, k.revoked_at, k.revoked_by,
         k.last_used_at, k.last_used_ip, k.created_at, k.created_by, k.secret_hash
  FROM operator_api_keys k JOIN operator_users u ON u.id = k.user_id`;

const toKey = (r: Record<string, any>): StoredKey => ({
  keyId: r.key_id, userId: r.user_id, userName: r.user_name, role: r.role, name: r.name, clientIds: r.client_ids ?? null,
  expiresAt: iso(r.expires_at), revokedAt: iso(r.revoked_at), revokedBy: r.revoked_by ?? null,
  lastUsedAt: iso(r.last_used_at), lastUsedIp: r.last_used_ip ?? null, createdAt: r.created_at.toISOString(), createdBy: r.created_by,
  secretHash: r.secret_hash,
});

/** The row without its hash: what the API may show. */
export function publicKey(k: StoredKey): ApiKeyRow {
  const { secretHash: _hash, ...rest } = k;
  return rest;
}

export async function insertUser(db: Queryable, u: { name: string; role: Role; createdBy: string }): Promise<UserRow> {
  const { rows } = await db.query(
    'INSERT INTO operator_users (id, name, role, created_by) VALUES ($1::uuid, $2::text, $3::text, $4::text) RETURNING *',
    [randomUUID(), u.name, u.role, u.createdBy],
  );
  return toUser(rows[0]);
}

export async function listUsers(db: Queryable): Promise<UserRow[]> {
  const { rows } = await db.query('SELECT * FROM operator_users ORDER BY name');
  return rows.map(toUser);
}

export async function findUser(db: Queryable, idOrName: string): Promise<UserRow | undefined> {
  const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrName);
  const { rows } = await db.query(`SELECT * FROM operator_users WHERE ${isUuid ? 'id = $1::uuid' : 'name = $1::text'}`, [idOrName]);
  return rows[0] ? toUser(rows[0]) : undefined;
}

export async function insertApiKey(db: Queryable, k: {
  keyId: string; userId: string; name: string; secretHash: string; clientIds: string[] | null; expiresAt: Date | null; createdBy: string;
}): Promise<StoredKey> {
  await db.query(
    `INSERT INTO operator_api_keys (key_id, user_id, name, secret_hash, client_ids, expires_at, created_by)
     VALUES ($1::text, $2::uuid, $3::text, $4::text, $5::uuid[], $6::timestamptz, $7::text)`,
    [k.keyId, k.userId, k.name, k.secretHash, k.clientIds, k.expiresAt, k.createdBy],
  );
  return (await findApiKey(db, k.keyId))!;
}

export async function findApiKey(db: Queryable, keyId: string): Promise<StoredKey | undefined> {
  const { rows } = await db.query(`${KEY_SELECT} WHERE k.key_id = $1::text`, [keyId]);
  return rows[0] ? toKey(rows[0]) : undefined;
}

export async function listApiKeys(db: Queryable, filter: { userId?: string } = {}): Promise<ApiKeyRow[]> {
  const { rows } = await db.query(`${KEY_SELECT} WHERE ($1::uuid IS NULL OR k.user_id = $1::uuid) ORDER BY u.name, k.name`, [filter.userId ?? null]);
  return rows.map((r) => publicKey(toKey(r)));
}

/** Revokes a key (once: a second revoke keeps the first time and person). */
export async function revokeApiKey(db: Queryable, keyId: string, by: string): Promise<StoredKey | undefined> {
  await db.query(
    'UPDATE operator_api_keys SET revoked_at = COALESCE(revoked_at, now()), revoked_by = COALESCE(revoked_by, $2::text) WHERE key_id = $1::text',
    [keyId, by],
  );
  return findApiKey(db, keyId);
}

/**
 * Records a key's use, at most once a minute per key: authentication is on every request, and a
 * write per request would turn every read into a write.
 */
export async function touchApiKey(db: Queryable, keyId: string, ip: string): Promise<void> {
  await db.query(
    `UPDATE operator_api_keys SET last_used_at = now(), last_used_ip = $2::text
     WHERE key_id = $1::text AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute' OR last_used_ip IS DISTINCT FROM $2::text)`,
    [keyId, ip],
  );
}

/**
 * The bootstrap path: the configured key (PATCHFLOW_API_KEY, or npm start's DATA_DIR/api-key) is the
 * key 'bootstrap' of the user 'admin' (role admin, every client). Its hash follows the configuration;
 * a revocation holds until the configured key changes.
 */
export async function ensureBootstrapAdmin(db: Queryable, secretHash: string): Promise<void> {
  await db.query(
    `INSERT INTO operator_users (id, name, role, created_by) VALUES ($1::uuid, 'admin', 'admin', 'bootstrap')
     ON CONFLICT (name) DO NOTHING`,
    [randomUUID()],
  );
  await db.query(
    `INSERT INTO operator_api_keys (key_id, user_id, name, secret_hash, client_ids, created_by)
     SELECT 'bootstrap', id, 'bootstrap', $1::text, NULL, 'bootstrap' FROM operator_users WHERE name = 'admin'
     ON CONFLICT (key_id) DO UPDATE SET
       secret_hash = EXCLUDED.secret_hash,
       revoked_at = CASE WHEN operator_api_keys.secret_hash = EXCLUDED.secret_hash THEN operator_api_keys.revoked_at END,
       revoked_by = CASE WHEN operator_api_keys.secret_hash = EXCLUDED.secret_hash THEN operator_api_keys.revoked_by END`,
    [secretHash],
  );
}
