import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AptExecutor } from '../../agent/apt-executor';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import type { AgentCommand } from '../../domain/device-protocol';
import {
  describeHealthCheck, healthCheckProblem, healthCheckResult, rolledBackReason, windowsServiceStates, type HealthCheckSpec,
} from '../../domain/health-check';
import { tally, type Tally } from '../../domain/rollout-tally';
import { observeScan, recordInstallSuccess, SERVER_LOOP_WORDING, updateLoopProblem } from '../../domain/wua-update-loop';

const zero: Tally = { devices: 0, done: 0, failed: 0, offline: 0, busy: 0, rebootPending: 0, patchesInstalled: 0, patchesFailed: 0 };

describe('health check parameters', () => {
  test.each([
    [{ kind: 'services_running', services: ['Spooler', 'W32Time'] }, undefined],
    [{ kind: 'processes_running', processes: ['nginx', 'postgres'] }, undefined],
    [{ kind: 'script', script: 'rm -rf /' }, 'check.kind'],
    [{ kind: 'services_running', services: [] }, 'check.services'],
    [{ kind: 'services_running', services: ['ok', 'a b'] }, 'check.services[1]'],
    [{ kind: 'services_running', services: ['x;reboot'] }, 'check.services[0]'],
    [{ kind: 'services_running', services: ['-Force'] }, 'check.services[0]'],
    [{ kind: 'services_running', services: ['Spooler', 'spooler'] }, 'check.services'],
    [{ kind: 'processes_running', processes: ['sshd'], command: 'ls' }, 'check.command'],
    [{ kind: 'services_running', services: Array.from({ length: 21 }, (_, i) => `s${i}`) }, 'check.services'],
    [null, 'check'],
  ])('%j: problem at %s', (value, field) => {
    expect(healthCheckProblem(value)?.field).toBe(field);
  });

  test('a result is healthy only when every name is in the expected state, and says which is not', () => {
    const check: HealthCheckSpec = { kind: 'services_running', services: ['Spooler', 'W32Time', 'Gone'] };
    const r = healthCheckResult(check, new Map([['spooler', 'stopped'], ['w32time', 'running']]), 'running');
    expect(r.healthy).toBe(false);
    expect(r.output).toBe('Spooler: stopped (expected running); W32Time: running; Gone: not found (expected running)');
    expect(healthCheckResult({ kind: 'services_running', services: ['W32Time'] }, new Map([['w32time', 'running']]), 'running').healthy).toBe(true);
    expect(describeHealthCheck(check)).toBe('services running: Spooler, W32Time, Gone');
    expect(rolledBackReason('Spooler: stopped')).toBe('rolled back: health check failed: Spooler: stopped');
  });

  test('Get-Service statuses in an operator\'s words', () => {
    expect([...windowsServiceStates([
      { name: 'Spooler', found: true, status: 'StartPending' }, { name: 'X', found: false, status: null }, { name: 'W32Time', found: true, status: 'Running' },
    ])]).toEqual([['spooler', 'start pending'], ['x', 'not found'], ['w32time', 'running']]);
  });
});

describe('a rollback in the rollout tally', () => {
  test('a device whose health check failed is a failure, rolled back or not; its rolled-back patches are counted', () => {
    let t = tally(zero, { kind: 'done', installed: 2, failed: 0, rebootPending: false });
    t = tally(t, { kind: 'failed', installed: 0, failed: 2, rebootPending: false, healthCheckFailed: true, rolledBack: 2 });
    t = tally(t, { kind: 'done', installed: 1, failed: 0, rebootPending: false, healthCheckFailed: true, rolledBack: 0 });
    expect(t).toMatchObject({ done: 1, failed: 2, patchesInstalled: 3, patchesFailed: 2, patchesRolledBack: 2 });
    // counts from before health checks carry no rollback count
    expect(tally(zero, { kind: 'done', installed: 1, failed: 0, rebootPending: false })).not.toHaveProperty('patchesRolledBack');
  });
});

describe('update loops, in the server\'s words', () => {
  test('the second comeback is a loop, named for the scan that saw it', () => {
    const A = 'ABC';
    let s = recordInstallSuccess({}, A);
    s = observeScan(s, [{ updateId: A, installed: false, rebootRequired: false }]);
    s = recordInstallSuccess(s, A);
    expect(updateLoopProblem(s, A, 'KB1', SERVER_LOOP_WORDING)).toBeUndefined();
    s = observeScan(s, [{ updateId: A, installed: false, rebootRequired: false }]);
    expect(updateLoopProblem(s, A, 'KB1', SERVER_LOOP_WORDING))
      .toBe('update loop detected: KB1 reported success 2 times and the next scan offered it again after each; not installed again');
  });
});

describe('agents\' health checks', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-hc-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cmd = (check: unknown): AgentCommand => ({ id: `hc-${Math.random()}`, type: 'health_check', payload: { check, reason: 'after install' } as never, attempt: 1 });

  test('apt: processes_running reads /proc/<pid>/comm, runs no program; services_running is refused clearly', async () => {
    const proc = path.join(dir, 'proc');
    for (const [pid, comm] of [['1', 'init'], ['42', 'nginx'], ['77', 'sshd']]) {
      fs.mkdirSync(path.join(proc, pid), { recursive: true });
      fs.writeFileSync(path.join(proc, pid, 'comm'), `${comm}\n`);
    }
    fs.mkdirSync(path.join(proc, 'self'));
    const apt = new AptExecutor({ stateDir: path.join(dir, 'state'), root: dir, updateBeforeScan: false, procDir: proc });
    expect(await apt.handle(cmd({ kind: 'processes_running', processes: ['nginx', 'postgres'] }))).toEqual({
      status: 'succeeded',
      result: {
        healthy: false, output: 'nginx: running; postgres: not running (expected running)',
        items: [{ name: 'nginx', ok: true, state: 'running' }, { name: 'postgres', ok: false, state: 'not running' }],
      },
    });
    expect(await apt.handle(cmd({ kind: 'services_running', services: ['nginx'] }))).toMatchObject({ status: 'failed', error: { code: 'UnsupportedCheck', retryable: false } });
    expect(await apt.handle(cmd({ kind: 'processes_running', processes: ['$(reboot)'] }))).toMatchObject({ status: 'failed', error: { code: 'InvalidPayload', retryable: false } });
  });

  test('simulator: a bad cumulative update stops its services until it is removed', async () => {
    const device = new SimulatedWindowsDevice({
      id: 'hc-sim', os: 'server2022', sandboxDir: path.join(dir, 'sim'), missingKbs: ['KB5035857'], breaksServices: { KB5035857: ['Spooler'] },
    });
    const check = { kind: 'services_running', services: ['Spooler', 'W32Time'] };
    expect(await device.handle(cmd(check))).toMatchObject({ status: 'succeeded', result: { healthy: true } });
    expect(device.stoppedServices()).toEqual([]);
    const broken = new SimulatedWindowsDevice({
      id: 'hc-sim2', os: 'server2022', sandboxDir: path.join(dir, 'sim2'), breaksServices: { KB5035857: ['Spooler'] },
      missingKbs: ['KB5034129'], // March's cumulative update is installed
    });
    expect(await broken.handle(cmd(check))).toMatchObject({ status: 'succeeded', result: { healthy: false, output: 'Spooler: stopped (expected running); W32Time: running' } });
    expect(await broken.handle(cmd({ kind: 'services_running', services: ['Spooler', 'x y'] }))).toMatchObject({ status: 'failed', error: { code: 'InvalidPayload' } });
  });
});
