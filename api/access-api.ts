import { randomBytes } from 'node:crypto';
import express, { type Response, type Router } from 'express';
import { findApiKey, findUser, insertApiKey, insertUser, listApiKeys, listUsers, publicKey, revokeApiKey } from '../db/access-repository';
import { appendAudit } from '../db/audit-repository';
import { withTransaction, type Db } from '../db/database';
import { clientTenancy } from '../db/tenancy-repository';
import { NotFoundError } from '../domain/errors';
import { hashSecret, newSecret } from './credentials';
import { createKeySchema, createUserSchema, keyIdParam, userIdParam } from './access-schemas';
import { principalOf } from './tenancy';
import { parse } from './validation';

const DEFAULT_KEY_DAYS = 90;
const KEY_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** 12 characters of [a-z0-9]: the public part a key is looked up by (62 bits; the secret is 256 more). */
function newKeyId(): string {
  return [...randomBytes(12)].map((b) => KEY_ID_ALPHABET[b % KEY_ID_ALPHABET.length]).join('');
}

/** Mints a personal key: shown once, stored as its SHA-256. */
export async function mintApiKey(db: Db, o: { userId: string; name: string; clients: 'all' | string[]; expiresAt: Date | null; createdBy: string }) {
  const keyId = newKeyId();
  const key = `pf_${keyId}_${newSecret()}`;
  const row = await withTransaction(db, async (tx) => {
    const stored = await insertApiKey(tx, {
      keyId, userId: o.userId, name: o.name, secretHash: hashSecret(key), clientIds: o.clients === 'all' ? null : o.clients,
      expiresAt: o.expiresAt, createdBy: o.createdBy,
    });
    await appendAudit(tx, [{
      actor: o.createdBy, action: 'key.created', subject: keyId,
      details: { user: stored.userName, role: stored.role, name: o.name, clients: o.clients, expiresAt: stored.expiresAt },
    }]);
    return stored;
  });
  return { ...publicKey(row), key };
}

/** People and their keys (/api/v1/users, /api/v1/keys): admins with a key for all clients. */
export function createAccessApi(deps: { db: Db }): Router {
  const { db } = deps;
  const router = express.Router();
  const actorOf = (res: Response): string => res.locals.actor as string;

  router.get('/whoami', async (_req, res) => {
    const p = principalOf(res);
    res.json({ user: p.userName, role: p.role, keyId: p.keyId, keyName: p.keyName, clients: p.clients });
  });

  router.post('/users', async (req, res) => {
    const body = parse(createUserSchema, req.body, 'body');
    const user = await withTransaction(db, async (tx) => {
      const u = await insertUser(tx, { ...body, createdBy: actorOf(res) });
      await appendAudit(tx, [{ actor: actorOf(res), action: 'user.created', subject: u.id, details: { name: u.name, role: u.role } }]);
      return u;
    });
    res.status(201).location(`/api/v1/users/${user.id}`).json(user);
  });

  router.get('/users', async (_req, res) => {
    res.json({ users: await listUsers(db) });
  });

  router.post('/users/:userId/keys', async (req, res) => {
    const { userId } = parse(userIdParam, req.params, 'params');
    const body = parse(createKeySchema, req.body, 'body');
    const user = await findUser(db, userId);
    if (!user) throw new NotFoundError('user', userId);
    if (body.clients !== 'all') {
      for (const c of body.clients) if (!(await clientTenancy(db, c))) throw new NotFoundError('client', c);
    }
    const expiresAt = body.expiresAt === null ? null : body.expiresAt ? new Date(body.expiresAt) : new Date(Date.now() + DEFAULT_KEY_DAYS * 86_400_000);
    const minted = await mintApiKey(db, { userId: user.id, name: body.name, clients: body.clients, expiresAt, createdBy: actorOf(res) });
    // The key is in this answer only: it is stored as its hash.
    res.status(201).location(`/api/v1/keys/${minted.keyId}`).json(minted);
  });

  router.get('/keys', async (_req, res) => {
    res.json({ keys: await listApiKeys(db) });
  });

  router.post('/keys/:keyId/revoke', async (req, res) => {
    const { keyId } = parse(keyIdParam, req.params, 'params');
    const answer = await withTransaction(db, async (tx) => {
      if (!(await findApiKey(tx, keyId))) throw new NotFoundError('key', keyId);
      const k = (await revokeApiKey(tx, keyId, actorOf(res)))!;
      await appendAudit(tx, [{ actor: actorOf(res), action: 'key.revoked', subject: keyId, details: { user: k.userName, name: k.name, revokedAt: k.revokedAt } }]);
      return publicKey(k);
    });
    res.json(answer);
  });

  return router;
}
