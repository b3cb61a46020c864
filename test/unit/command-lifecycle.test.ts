import fs from 'node:fs';
import path from 'node:path';
import {
  afterRecord,
  canTransition,
  COMMAND_STATUSES,
  CommandStatus,
  rebootVerdict,
  sqlStatuses,
  WAITING_ON_DEVICE,
  ANSWERED,
  CLAIMABLE,
} from '../../domain/command-lifecycle';

const { Pending: P, Claimed: C, Acknowledged: A, Succeeded: S, Failed: F, Withdrawn: W } = CommandStatus;

/**
 * Every move a device command may make, all 6 × 6 pairs (rows: from, columns: to), written out by hand
 * from the protocol, not derived from the code, so a change to either shows here.
 */
const COLUMNS = [P, C, A, S, F, W] as const;
const TABLE: Record<CommandStatus, readonly (0 | 1)[]> = {
  //                   P  C  A  S  F  W
  // claimed by a poll, acknowledged (a reboot), answered, withdrawn; a new attempt leaves it pending
  [P]: /* pending   */ [1, 1, 1, 1, 1, 1],
  // given back, claimed again (lost reply), acknowledged, answered, withdrawn
  [C]: /* claimed   */ [1, 1, 1, 1, 1, 1],
  // the reboot never happened (offered again), or done / given up, or withdrawn; never claimed as is
  [A]: /* acknowledged */ [1, 0, 0, 1, 1, 1],
  // an answer is final: a retry returns it
  [S]: /* succeeded */ [0, 0, 0, 0, 0, 0],
  // a retryable failure is asked again (pending) or answered again; nothing withdraws an answer
  [F]: /* failed    */ [1, 0, 0, 1, 1, 0],
  // withdrawn stays withdrawn
  [W]: /* withdrawn */ [0, 0, 0, 0, 0, 0],
};

describe('the device command lifecycle', () => {
  test.each(COMMAND_STATUSES.flatMap((from) => COMMAND_STATUSES.map((to) => [from, to, TABLE[from][COLUMNS.indexOf(to)] === 1] as const)))(
    '%s → %s allowed: %s', (from, to, allowed) => {
      expect(canTransition(from, to)).toBe(allowed);
    },
  );

  test('the named sets', () => {
    expect(WAITING_ON_DEVICE).toEqual([P, C, A]);
    expect(ANSWERED).toEqual([S, F]);
    expect(CLAIMABLE).toEqual([P, C]);
  });

  test('a new attempt keeps a final answer, a permanent failure, an acknowledged reboot and a withdrawal; re-offers the rest', () => {
    expect(afterRecord(P, null)).toBe(P);
    expect(afterRecord(C, null)).toBe(P);
    expect(afterRecord(F, { retryable: true })).toBe(P);
    expect(afterRecord(F, { retryable: false })).toBe(F);
    expect(afterRecord(F, null)).toBe(F);
    expect(afterRecord(S, null)).toBe(S);
    expect(afterRecord(A, null)).toBe(A);
    expect(afterRecord(W, null)).toBe(W);
  });

  test('status lists render as SQL, and only statuses do', () => {
    expect(sqlStatuses([P, C])).toBe("('pending', 'claimed')");
    expect(() => sqlStatuses(["x') OR true --" as CommandStatus])).toThrow(/not a command status/);
  });

  test('a reboot: a new boot id finishes it, the same one past the timeout says it never happened', () => {
    const acked = { ackedBootId: 'boot-1', acknowledgedSecondsAgo: 10 };
    expect(rebootVerdict(acked, 'boot-2', 60)).toBe('finished');
    expect(rebootVerdict(acked, 'boot-1', 60)).toBe('waiting');
    expect(rebootVerdict({ ...acked, acknowledgedSecondsAgo: 61 }, 'boot-1', 60)).toBe('never-happened');
    expect(rebootVerdict(acked, undefined, 60)).toBe('waiting');
    expect(rebootVerdict({ ackedBootId: null, acknowledgedSecondsAgo: 999 }, 'boot-2', 60)).toBe('waiting');
  });

  // The one home: no statement over agent_commands spells a status of its own.
  test.each(['db/command-repository.ts', 'db/fleet-repository.ts', 'db/cleanup-repository.ts'])('%s takes every command status from the lifecycle', (file) => {
    // Comments out first: their `code` spans would upset the template-literal split.
    const source = fs.readFileSync(path.join(__dirname, '../..', file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    const literal = new RegExp(`'(${COMMAND_STATUSES.join('|')})'`, 'g');
    const commandStatements = source.split('`').filter((_, i) => i % 2 === 1).filter((sql) => /agent_commands/.test(sql));
    expect(commandStatements.length).toBeGreaterThan(0);
    expect(commandStatements.flatMap((sql) => sql.match(literal) ?? [])).toEqual([]);
  });
});
