/**
 * The kill switch and "needs attention" on the dashboard, in headless Chromium against the real API
 * and PostgreSQL (the same browser helpers as dashboard.test.ts): the banner on every page while a
 * halt is in force, an operator's apart from an automatic one, each with who, since when and why; a
 * key of some clients only sees no banner (GET /halt is for all-client keys) and no error; devices
 * needing attention on the fleet page, and the device page's "Mark fixed". Screenshots go under
 * .data/ci/ (dashboard-halt-*.png).
 *
 * The fleet-wide halt here is resumed in a `finally`: it would reach every other file's rollouts.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createRolloutActivities } from '../../activities/rollout-activities';
import { API_KEY, startHarness, type Harness } from './harness';
import { chromiumPath, launchBrowser, screenshot } from './dashboard-browser';

jest.setTimeout(120_000);

const executablePath = chromiumPath();
if (!executablePath) console.warn('[dashboard-halt.test] no Chromium (CHROMIUM_PATH, /usr/bin/chromium): skipping the browser tests; `apt-get install -y chromium`');
const browserTest = executablePath ? test : test.skip;

let h: Harness;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const suffix = randomUUID().slice(0, 6);

beforeAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  await (require('../../tools/build-web.js') as { buildWeb(o: { quiet: boolean }): Promise<unknown> }).buildWeb({ quiet: true });
  h = await startHarness({ startWorker: false });
  if (executablePath) {
    browser = await launchBrowser(executablePath);
    context = await browser.newContext({ baseURL: h.server.url, viewport: { width: 1440, height: 900 } });
    page = await context.newPage();
  }
});

afterAll(async () => {
  await h.api('POST', '/api/v1/halt/resume', { all: true });
  await browser?.close();
  await h?.stop();
});

async function signIn(p: Page, key: string): Promise<void> {
  await p.goto('/fleet');
  await p.locator('#api-key').waitFor();
  await p.fill('#api-key', key);
  await p.click('button[type=submit]');
  await p.getByRole('heading', { name: 'Fleet' }).waitFor();
}

const WHY = 'automatic rollback incomplete: KB5034441 could not be uninstalled (0x80240028 WU_E_UNINSTALL_NOT_ALLOWED)';

browserTest('a halt in force is a banner on every page (operator vs automatic, who, since, why); needs attention on the fleet and device pages', async () => {
  const broken = await h.createDevice(`SRV-NA-${suffix}`);
  await h.db.query('UPDATE devices SET needs_attention = $2, needs_attention_at = now() WHERE id = $1', [broken.deviceId, WHY]);
  // A rollout's automatic halt as the rollout records it (the activity on the real database).
  const rollout = `automatic-update/${randomUUID()}-dashboard-test`;
  await createRolloutActivities({ db: h.db, log: pino({ level: 'silent' }) }).recordAutoHalt({
    workflowId: rollout, scheduleId: randomUUID(), scheduleName: `Pilot ring ${suffix}`, reason: 'failure rate 30.0% of 10 > 20%', failed: 3, finished: 10, failureRate: 0.2,
  });
  const operator = await h.mintKey({ role: 'operator' });
  const onlyOneClient = await h.mintKey({ role: 'viewer', clients: [broken.clientId] });

  try {
    const halt = await h.apiAs(operator.key, 'POST', '/api/v1/halt', { all: true, reason: `boot loops after the December CU ${suffix}` });
    expect(halt.status).toBe(201);
    await signIn(page, API_KEY);

    const banner = page.getByTestId('halt-banner');
    await banner.waitFor();
    const op = page.getByTestId('halt-operator');
    expect(await op.getAttribute('data-source')).toBe('operator');
    expect(await op.textContent()).toMatch(/Kill switch: every patch is halted fleet-wide\./);
    expect(await page.getByTestId('halt-by').textContent()).toBe(halt.body.halt.haltedBy);
    expect(await page.getByTestId('halt-reason').textContent()).toBe(`boot loops after the December CU ${suffix}`);
    expect(await op.textContent()).toMatch(/since .*\(\d+ s ago\)/);
    const auto = page.getByTestId('halt-automatic').filter({ hasText: rollout });
    expect(await auto.getAttribute('data-source')).toBe('automatic');
    expect(await auto.textContent()).toContain(`Automatic halt: Pilot ring ${suffix} stopped itself.`);
    expect(await auto.textContent()).toContain(`system: rollout ${rollout} auto-halt since`);
    expect(await auto.textContent()).toContain('failure rate 30.0% of 10 > 20%');
    expect(await auto.textContent()).toContain(`patchflow resume --rollout ${rollout}`);

    // The fleet page lists the device needing attention, with why.
    const row = page.getByTestId('needs-attention').getByTestId('needs-attention-row').filter({ hasText: `SRV-NA-${suffix}` });
    await row.waitFor();
    expect(await row.textContent()).toContain(WHY);
    await screenshot(page, 'halt-banner-fleet');

    // On every page: the banner stays on the schedules page too.
    await page.getByRole('link', { name: 'Schedules' }).click();
    await page.getByRole('heading', { name: 'Schedules and rollouts' }).waitFor();
    await banner.waitFor();

    // The device page says it needs attention; the operator marks it fixed with a note.
    await page.goto(`/devices/${broken.deviceId}`);
    const box = page.getByTestId('device-needs-attention');
    await box.waitFor();
    expect(await box.textContent()).toContain(WHY);
    await screenshot(page, 'halt-device-needs-attention');
    await expect(box.getByRole('button', { name: 'Mark fixed' }).isDisabled()).resolves.toBe(true);
    await box.getByLabel('note').fill('removed it with DISM by hand');
    await box.getByRole('button', { name: 'Mark fixed' }).click();
    await box.waitFor({ state: 'detached' });
    expect((await h.api('GET', `/api/v1/devices/${broken.deviceId}`)).body.needsAttention).toBeNull();
    const audit = await h.db.query(`SELECT details FROM audit_log WHERE device_id = $1 AND action = 'device.needs_attention_cleared'`, [broken.deviceId]);
    expect(audit.rows.map((r) => r.details.note)).toEqual(['removed it with DISM by hand']);

    // A key of one client only: the same pages, no banner and no error (GET /halt is for all-client keys).
    const narrow = await browser.newContext({ baseURL: h.server.url, viewport: { width: 1440, height: 900 } });
    const p2 = await narrow.newPage();
    await signIn(p2, onlyOneClient.key);
    await p2.waitForTimeout(1_000);
    expect(await p2.getByTestId('halt-banner').count()).toBe(0);
    expect(await p2.getByRole('alert').count()).toBe(0);
    await narrow.close();
  } finally {
    expect((await h.api('POST', '/api/v1/halt/resume', { all: true })).status).toBe(200);
  }
  // Resumed: the operator's line goes at the next refresh; the automatic one stays until its own resume.
  await page.goto('/fleet');
  await page.getByTestId('halt-automatic').filter({ hasText: rollout }).waitFor();
  expect(await page.getByTestId('halt-operator').count()).toBe(0);
  // Its rollout is not running (this test made the record alone): the resume says so and ends it.
  expect((await h.api('POST', '/api/v1/halt/resume', { rollout })).status).toBe(409);
  await page.getByTestId('halt-automatic').filter({ hasText: rollout }).waitFor({ state: 'detached', timeout: 15_000 });
});
