/**
 * The operators' dashboard in headless Chromium against the real API, PostgreSQL, Temporal (with its
 * Web UI) and simulated agents: sign in (key and one-time login link), the fleet page's figures
 * against the API's own routes, a bulk approval, the Patch Management wizard approving a patch at one
 * site and installing it now, a device page's link to a Temporal UI history, and the report form's
 * CSV. Every page is screenshotted under .data/ci/ (dashboard-*.png).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { feedEntryOf } from '../../agent/catalog-feed';
import { startSimulatedFleet, type SimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import { findUpdate } from '../../agent/catalog';
import { applyPatchStates } from '../../db/patch-repository';
import { processScan } from '../../db/scan-repository';
import { LoginCodes } from '../../api/dashboard';
import {
  catalogPatchesResponse, clientsResponse, deviceApprovalsResponse, devicePatchesResponse, devicesResponse, deviceWorkflowsResponse,
  fleetSummaryResponse, patchManagementPreviewResponse, patchStatusCountsResponse, policiesResponse, policySummaryResponse,
  reportsResponse, rolloutsResponse, scheduleListResponse, sitesResponse,
} from '../../api/dashboard-schemas';
import { signCatalogFeed } from '../../domain/catalog-feed';
import type { ScannedUpdate } from '../../domain/device-protocol';
import { isFullyPatched } from '../../domain/fleet-summary';
import { API_KEY, eventually, maybeRecordHistory, startHarness, type Harness } from './harness';
import { chromiumPath, launchBrowser, screenshot } from './dashboard-browser';

jest.setTimeout(180_000);

const executablePath = chromiumPath();
if (!executablePath) console.warn('[dashboard.test] no Chromium (CHROMIUM_PATH, /usr/bin/chromium): skipping the browser tests; `apt-get install -y chromium`');
const browserTest = executablePath ? test : test.skip;

const SECURITY = 'KB5034439'; // Security Updates → Approved by a new policy's defaults
const CRITICAL = 'KB5033118'; // Critical Updates → Approved
const ROLLUP = 'KB890830'; // Update Rollups (MSRT) → Pending Approval

let h: Harness;
let fleet: SimulatedFleet;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const loginCodes = new LoginCodes();
const suffix = randomUUID().slice(0, 6);
const names = { clientA: `Northwind ${suffix}`, clientB: `Fabrikam ${suffix}` };
const ids = { clientA: '', clientB: '', site1: '', site2: '', siteB: '', d1: '', d2: '', dB: '', dC: '', dW: '' };
const devices: Record<string, SimulatedWindowsDevice> = {};

beforeAll(async () => {
  // `npx jest` alone must not test a stale bundle: rebuild when a source is newer (fast, else skipped).
  // tools/build-web.js is plain Node (it runs before any TypeScript tooling), hence require.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  await (require('../../tools/build-web.js') as { buildWeb(o: { quiet: boolean }): Promise<unknown> }).buildWeb({ quiet: true });
  h = await startHarness({ app: { dashboard: { loginCodes, temporalUiUrl: process.env.PATCHFLOW_TEST_TEMPORAL_UI_URL }, rolloutOfflineAfterSeconds: 5 } });
  ids.clientA = (await h.api('POST', '/api/v1/clients', { name: names.clientA })).body.id;
  ids.clientB = (await h.api('POST', '/api/v1/clients', { name: names.clientB })).body.id;
  ids.site1 = (await h.api('POST', `/api/v1/clients/${ids.clientA}/sites`, { name: 'Seattle' })).body.id;
  ids.site2 = (await h.api('POST', `/api/v1/clients/${ids.clientA}/sites`, { name: 'Portland' })).body.id;
  ids.siteB = (await h.api('POST', `/api/v1/clients/${ids.clientB}/sites`, { name: 'Main' })).body.id;
  const members = [];
  for (const [key, site, name, missing] of [
    ['d1', ids.site1, `NW-SRV-${suffix}-1`, [SECURITY, CRITICAL, ROLLUP]],
    ['d2', ids.site2, `NW-SRV-${suffix}-2`, [SECURITY, ROLLUP]],
    ['dB', ids.siteB, `FB-SRV-${suffix}-1`, []],
    ['dC', ids.siteB, `FB-SRV-${suffix}-2`, [SECURITY, CRITICAL]],
  ] as const) {
    const created = await h.api('POST', '/api/v1/devices', { siteId: site, name, deviceType: 'server' });
    ids[key] = created.body.device.id;
    devices[key] = new SimulatedWindowsDevice({
      id: name.toLowerCase(), name, os: 'server2022', sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${name}-`)), missingKbs: [...missing], rebootDurationMs: 500,
      // a slow installer on one server, so that its install can be watched and cancelled from its page
      ...(key === 'dC' ? { executeDurationMs: 4_000 } : {}),
    });
    members.push({ device: devices[key], enrollmentToken: created.body.enrollmentToken });
  }
  fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: members, pollWaitSeconds: 2 });
  await fleet.ready;
  // A policy holding only these clients (policies are global: never every device of the run).
  const policy = await h.api('POST', '/api/v1/policies', { name: `Dashboard servers ${suffix}` });
  for (const clientId of [ids.clientA, ids.clientB]) {
    expect((await h.api('POST', `/api/v1/policies/${policy.body.id}/members`, { scopeType: 'client', scopeId: clientId })).status).toBeLessThan(300);
  }
  for (const clientId of [ids.clientA, ids.clientB]) {
    const scans = await h.api('POST', '/api/v1/scans', { scopeType: 'client', scopeId: clientId });
    // The scope scan starts the device scans; once it is done, every one of them exists.
    await h.client.workflow.getHandle(scans.body.workflowId).result();
    for (const s of scans.body.scans) await h.client.workflow.getHandle(s.workflowId).result();
  }
  // A workstation that never checks in (offline), with what installs once wrote: a failure with its
  // exit code, and a patch waiting for its reboot.
  const ws = await h.api('POST', '/api/v1/devices', { siteId: ids.siteB, name: `FB-WS-${suffix}-1`, deviceType: 'workstation' });
  ids.dW = ws.body.device.id;
  const scanned = (kb: string, installed: boolean) => ({ ...findUpdate({ kb })!, installed });
  await processScan(h.db, ids.dW, {
    bootId: 'boot-1', updates: [scanned(SECURITY, false), scanned(CRITICAL, false), scanned(ROLLUP, true)],
    rebootPending: false, freeDiskBytes: 1e10, scannedAt: new Date(Date.now() - 9 * 86_400_000).toISOString(),
  });
  await applyPatchStates(h.db, ids.dW, `install/${ids.dW}/seed`, [
    { updateId: findUpdate({ kb: SECURITY })!.updateId, status: 'failed', exitCode: 0x80070643, error: 'Fatal error during installation', countFailure: true },
    { updateId: findUpdate({ kb: CRITICAL })!.updateId, status: 'reboot_required', exitCode: 3010 },
  ], `dashboard-seed-${suffix}`);
  if (executablePath) {
    browser = await launchBrowser(executablePath);
    context = await browser.newContext({ baseURL: h.server.url, viewport: { width: 1440, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
  }
});

afterAll(async () => {
  await browser?.close();
  await fleet?.stop();
  await h?.stop();
});

async function signIn(p: Page = page): Promise<void> {
  await p.goto('/fleet');
  if (await p.locator('#api-key').isVisible().catch(() => false)) {
    await p.fill('#api-key', API_KEY);
    await p.click('button[type=submit]');
  }
  await p.getByRole('heading', { name: 'Fleet' }).waitFor();
}

browserTest('sign in: a wrong key is refused, the right one opens the fleet; a login link works once and leaves no code in the URL', async () => {
  await page.goto('/');
  await page.locator('#api-key').waitFor();
  await screenshot(page, '01-sign-in');
  await page.fill('#api-key', 'not-the-key');
  await page.click('button[type=submit]');
  await page.getByText('That API key is not valid.').waitFor();
  await page.fill('#api-key', API_KEY);
  await page.click('button[type=submit]');
  await page.getByRole('heading', { name: 'Fleet' }).waitFor();
  expect(await page.getByTestId('signed-in-as').textContent()).toBe('user:admin/key:bootstrap');
  // The key is in this tab's session storage, never in the address.
  expect(page.url()).not.toContain(API_KEY);

  const other = await browser.newContext({ baseURL: h.server.url });
  const p2 = await other.newPage();
  const code = loginCodes.issue();
  await p2.goto(`/#login=${code}`);
  await p2.getByRole('heading', { name: 'Fleet' }).waitFor();
  expect(p2.url()).not.toContain('login=');
  expect(await p2.evaluate('location.hash')).toBe('');
  const p3 = await other.newPage();
  
  await p3.goto(`/#login=${code}`);
  await p3.getByText(/This sign-in link cannot be used/).waitFor();
  const { rows } = await h.db.query(`SELECT actor FROM audit_log WHERE action = 'auth.login_code_redeemed' ORDER BY id DESC LIMIT 1`);
  expect(rows[0]?.actor).toBe('user:admin/key:bootstrap');
  await other.close();
});

browserTest("the fleet page's numbers equal what the API's device and patch routes say", async () => {
  await signIn();
  await page.reload();
  await page.getByTestId(`client-${names.clientA}`).waitFor();
  await screenshot(page, '02-fleet');
  const all = devicesResponse.parse((await h.api('GET', '/api/v1/devices')).body).devices.filter((d) => !d.retiredAt);
  for (const [clientId, clientName] of [[ids.clientA, names.clientA], [ids.clientB, names.clientB]] as const) {
    const mine = all.filter((d) => d.clientId === clientId);
    const patched: Record<string, boolean> = {};
    for (const d of mine) {
      const { patches } = devicePatchesResponse.parse((await h.api('GET', `/api/v1/devices/${d.id}/patches`)).body);
      const counts: Record<string, number> = {};
      for (const p of patches.filter((x) => x.verified)) counts[p.status] = (counts[p.status] ?? 0) + 1;
      patched[d.id] = isFullyPatched(counts);
    }
    const row = page.getByTestId(`client-${clientName}`);
    expect(await row.getByTestId('devices').textContent()).toBe(String(mine.length));
    expect(await row.getByTestId('fully-patched').textContent()).toBe(String(mine.filter((d) => patched[d.id]).length));
    for (const siteName of [...new Set(mine.map((d) => d.siteName))]) {
      const inSite = mine.filter((d) => d.siteName === siteName);
      const siteRow = page.getByTestId(`site-${clientName}-${siteName}`);
      expect(await siteRow.getByTestId('devices').textContent()).toBe(String(inSite.length));
      expect(await siteRow.getByTestId('fully-patched').textContent()).toBe(String(inSite.filter((d) => patched[d.id]).length));
    }
  }
  // Whole-fleet figures: every live device of the run, counted from the same routes.
  const summary = fleetSummaryResponse.parse((await h.api('GET', '/api/v1/fleet/summary')).body);
  expect(summary.totals.devices).toBe(all.length);
  expect(await page.getByTestId('kpi-missing-critical-value').textContent()).toBe(String(summary.totals.missingCritical));
  expect(await page.getByTestId('kpi-offline-value').textContent()).toBe(String(summary.totals.offline));
  expect(await page.getByTestId('kpi-failed-value').textContent()).toBe(String(summary.totals.failed));
  expect(await page.getByTestId('kpi-reboot-required-value').textContent()).toBe(String(summary.totals.rebootRequired));
  // The seeded workstation: offline, its scan stale, one failed install with the exit code's meaning.
  const ws = summary.devices.find((d) => d.deviceId === ids.dW)!;
  expect(ws).toMatchObject({ offline: true, staleScan: true, failed: 1, rebootRequired: true, fullyPatched: false });
  const failedRow = summary.failedInstalls.find((f) => f.deviceId === ids.dW)!;
  expect(failedRow).toMatchObject({ kb: SECURITY, exitCode: '0x80070643' });
  expect(failedRow.exitCodeMeaning).toMatch(/^ERROR_INSTALL_FAILURE/);
  expect(await page.getByTestId('failed-list').textContent()).toContain('0x80070643');

  // Each count links to the list it counts.
  await page.getByTestId(`client-${names.clientA}`).getByTestId('devices').click();
  await page.getByTestId('list-count').waitFor();
  expect(await page.getByTestId('list-count').textContent()).toBe('2');
  expect(await page.getByTestId('device-row').count()).toBe(2);
  await page.goto(`/fleet/list?kind=all&clientId=${ids.clientB}`);
  await page.getByTestId('device-row').nth(1).waitFor();
  await screenshot(page, '03-fleet-list');
  await page.goto('/fleet/list?kind=failed');
  await page.getByTestId('list-count').waitFor();
  expect(Number(await page.getByTestId('list-count').textContent())).toBe(summary.failedInstalls.length);
  await page.goto('/fleet/list?kind=missing-critical');
  await page.getByTestId('list-count').waitFor();
  expect(Number(await page.getByTestId('list-count').textContent())).toBe(summary.devices.filter((d) => d.missingCritical > 0).length);
});

/** Three patches of the run's own (unique KBs), published in a signed feed: approving them touches no other test. */
async function publishThreePatches(): Promise<string[]> {
  const token = `Dashboard bulk ${suffix}`;
  const kbs = [0, 1, 2].map(() => `KB8${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`);
  const updates: ScannedUpdate[] = kbs.map((kb, i) => ({
    updateId: randomUUID(), revision: 1, kb, title: `${token} update ${i + 1}`, product: 'Windows Server 2022', classification: 'Updates', severity: 'Unrated',
    publishedAt: '2024-01-09T00:00:00.000Z', sizeBytes: 1000, sha256: randomBytes(32).toString('hex'),
    downloadUrl: `https://catalog.example/${kb}.msu`, fileName: `${kb.toLowerCase()}.msu`, rebootBehavior: 'can_request',
    installed: false, securityBulletin: null, installType: 'normal', supersededBy: null, uninstallable: true,
  }));
  const feedId = `dashboard-${suffix}`;
  h.publishFeed(signCatalogFeed(h.feedKey.privateKeyPem, { id: feedId, sequence: 1, publishedAt: new Date().toISOString() }, updates.map(feedEntryOf)));
  expect((await h.syncCatalog(feedId)).outcome).not.toBe('refused');
  return kbs;
}

browserTest('bulk-approving three patches on the Approvals page changes their status', async () => {
  const kbs = await publishThreePatches();
  await signIn();
  await page.goto('/approvals');
  await page.fill('#f-name', `Dashboard bulk ${suffix}`);
  for (const kb of kbs) await page.getByTestId(`row-${kb}`).waitFor();
  for (const kb of kbs) expect(await page.getByTestId(`row-${kb}`).getByTestId('approval').textContent()).not.toMatch(/^Approved/);
  for (const kb of kbs) await page.getByLabel(`select ${kb}`).check();
  expect(await page.getByTestId('selected-count').textContent()).toBe('3');
  await page.getByRole('button', { name: 'Approve', exact: true }).click();
  await page.getByTestId('notice').waitFor();
  for (const kb of kbs) {
    await eventually(async () => ((await page.getByTestId(`row-${kb}`).getByTestId('approval').textContent())?.startsWith('Approved') ? true : undefined), 10_000, `${kb} shown Approved`);
  }
  const api = (await h.api('GET', `/api/v1/patches?name=${encodeURIComponent(`Dashboard bulk ${suffix}`)}`)).body.patches as { kb: string; approval: string }[];
  expect(api.map((p) => p.approval)).toEqual(['approved', 'approved', 'approved']);
  // The policy summary: a click on a default changes it (Pending Approval → Approved for 'Updates').
  const policyId = policiesResponse.parse((await h.api('GET', '/api/v1/policies')).body).policies.find((p) => p.name === `Dashboard servers ${suffix}`)!.id;
  await page.getByLabel('policy', { exact: true }).selectOption(policyId);
  const updatesRow = page.getByTestId('summary-Updates');
  await updatesRow.waitFor();
  expect(await updatesRow.locator('td').last().textContent()).toContain('Pending Approval');
  await updatesRow.locator('td').last().click();
  await eventually(async () => ((await updatesRow.locator('td').last().textContent())?.includes('Approved') ? true : undefined), 10_000, 'the default shown Approved');
  const summary = policySummaryResponse.parse((await h.api('GET', `/api/v1/policies/${policyId}/summary?groupBy=classification`)).body);
  expect(summary.rows.find((r) => r.key === 'Updates')?.defaultStatus).toBe('approved');
  await page.fill('#f-name', '');
  await page.getByTestId('policy-summary').scrollIntoViewIfNeeded();
  await screenshot(page, '04-approvals');
});

browserTest("the wizard approves one patch at one site and installs it now: only that site's devices install it", async () => {
  await signIn();
  await page.goto('/wizard');
  await page.getByLabel('search patches').fill(ROLLUP);
  await page.getByLabel(`select ${ROLLUP}`).check();
  await screenshot(page, '05-wizard-1-patches');
  await page.getByRole('button', { name: 'Proceed' }).click();
  // Uninstall is not offered: the patch is installed nowhere (so no status allows it).
  await expect(page.locator('input[name=action][value=uninstall]').isDisabled()).resolves.toBe(true);
  await page.locator('input[name=action][value=approve]').check();
  await screenshot(page, '05-wizard-2-action');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.selectOption('#w-scope', 'site');
  // The other client's site first: the patch is missing on none of its devices, which the wizard says before Apply.
  await page.selectOption('#w-scope-id', ids.siteB);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('input[name=schedule]').nth(1).check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByTestId('reach').waitFor();
  expect(await page.getByTestId('reach-count').textContent()).toBe('0');
  expect(await page.getByTestId('reach').textContent()).toMatch(/reaches no device/);
  await screenshot(page, '05-wizard-5-zero');
  for (let i = 0; i < 2; i++) await page.getByRole('button', { name: 'Back' }).click();
  await page.selectOption('#w-scope-id', ids.site1);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByTestId('reach-device').first().waitFor();
  expect(await page.getByTestId('reach-count').textContent()).toBe('1');
  expect(await page.getByTestId('reach-device').textContent()).toContain(`NW-SRV-${suffix}-1`);
  await screenshot(page, '05-wizard-5-preview');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByTestId('applied').waitFor();
  expect(await page.getByTestId('applied').textContent()).toMatch(/1 install\(s\) started/);
  const workflowId = (await page.getByTestId('applied').locator('td.mono').first().textContent())!;
  await h.client.workflow.getHandle(workflowId).result();
  // The wizard watches it install: the outcome and the patch's status show where it was applied.
  await page.getByTestId('install-status').filter({ hasText: 'succeeded' }).waitFor({ timeout: 15_000 });
  expect(await page.getByTestId('install-status').textContent()).toContain(`${ROLLUP} Installed`);
  await screenshot(page, '05-wizard-6-applied');
  expect(devices.d1.isInstalled(ROLLUP)).toBe(true);
  expect(devices.d2.isInstalled(ROLLUP)).toBe(false);
  // The action itself was set for that site only, in the audit log too.
  const actions = (await h.api('GET', `/api/v1/patch-actions?scopeType=site&scopeId=${ids.site1}`)).body.actions as { action: string }[];
  expect(actions.map((a) => a.action)).toContain('approve');
  const other = (await h.api('GET', `/api/v1/patch-actions?scopeType=site&scopeId=${ids.site2}`)).body.actions as unknown[];
  expect(other).toEqual([]);
});

browserTest('the wizard makes a per-patch schedule for one site: its run installs only that patch, only there', async () => {
  await signIn();
  await page.goto('/wizard');
  await page.getByLabel('search patches').fill(ROLLUP);
  await page.getByLabel(`select ${ROLLUP}`).check();
  await page.getByRole('button', { name: 'Proceed' }).click();
  await page.locator('input[name=action][value=approve]').check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.selectOption('#w-scope', 'site');
  await page.selectOption('#w-scope-id', ids.site2);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('input[name=schedule]').nth(2).check();
  await page.fill('#pp-name', `MSRT Portland ${suffix}`);
  await page.selectOption('#pp-day', 'sun');
  await page.fill('#pp-time', '03:30');
  await screenshot(page, '05-wizard-4-per-patch');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByTestId('reach-device').first().waitFor();
  expect(await page.getByTestId('reach-device').textContent()).toContain(`NW-SRV-${suffix}-2`);
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByTestId('applied').waitFor();
  expect(await page.getByTestId('applied').textContent()).toContain(`schedule "MSRT Portland ${suffix}" installs them`);
  const made = scheduleListResponse.parse((await h.api('GET', '/api/v1/schedules')).body).schedules.find((x) => x.name === `MSRT Portland ${suffix}`)!;
  expect(made).toMatchObject({ kind: 'automatic_update', scopeType: 'site', scopeId: ids.site2, kbs: [ROLLUP] });
  try {
    // Its run now (the Schedules page's Run now), then the rollout's install of that one KB.
    await page.goto('/schedules');
    const card = page.getByTestId(`schedule-MSRT Portland ${suffix}`);
    await card.getByText(`Per-patch: ${ROLLUP}`).waitFor();
    await card.getByRole('button', { name: 'Run now' }).click();
    const rollout = await eventually(async () => {
      const r = rolloutsResponse.parse((await h.api('GET', `/api/v1/schedules/${made.id}/rollouts`)).body).rollouts[0];
      return r?.finishedAt ? r : undefined;
    }, 60_000, 'the per-patch rollout');
    expect(devices.d2.isInstalled(ROLLUP)).toBe(true);
    await maybeRecordHistory(h.client, rollout.workflowId, 'automaticUpdateWorkflow-per-patch');
    expect(devices.d2.isInstalled(SECURITY)).toBe(false); // approved by policy, but not this schedule's patch
  } finally {
    await h.api('DELETE', `/api/v1/schedules/${made.id}`);
  }
});

browserTest("a device page shows its patches and workflows, and links to a Temporal UI history that exists", async () => {
  await signIn();
  await page.goto(`/devices/${ids.d1}`);
  await page.getByTestId(`patch-${ROLLUP}`).waitFor();
  await eventually(async () => ((await page.getByTestId(`patch-${ROLLUP}`).getByTestId('status').textContent()) === 'Installed' ? true : undefined), 15_000, 'ROLLUP Installed on the page');
  // Scan now shows in the workflows list (Temporal's visibility is eventually consistent).
  await page.getByRole('button', { name: 'Scan now' }).click();
  await page.getByTestId('notice').waitFor();
  const link = page.getByTestId('temporal-link').first();
  await link.waitFor({ timeout: 20_000 });
  await screenshot(page, '06-device');
  const href = (await link.getAttribute('href'))!;
  const ui = process.env.PATCHFLOW_TEST_TEMPORAL_UI_URL;
  expect(ui).toBeDefined();
  expect(href.startsWith(`${ui}/namespaces/default/workflows/`)).toBe(true);
  const [, workflowId, runId] = /\/workflows\/([^/]+)\/([^/]+)\/history$/.exec(href)!.map(decodeURIComponent);
  // The Web UI's own HTTP API knows that run, and the client finds it too.
  const res = await fetch(`${ui}/api/v1/namespaces/default/workflows/${encodeURIComponent(workflowId!)}?execution.runId=${encodeURIComponent(runId!)}`);
  expect(res.status).toBe(200);
  const described = (await res.json()) as { workflowExecutionInfo?: { execution?: { workflowId?: string } } };
  expect(described.workflowExecutionInfo?.execution?.workflowId).toBe(workflowId);
  expect((await h.client.workflow.getHandle(workflowId!, runId).describe()).runId).toBe(runId);
  // Install now on the other server: its install shows up, completes, and its patch turns Installed.
  await page.goto(`/devices/${ids.d2}`);
  await page.getByTestId(`patch-${SECURITY}`).waitFor();
  await page.getByRole('button', { name: 'Install now' }).click();
  const started = (await page.getByTestId('notice').textContent())!.replace(/^Started /, '');
  expect(started).toMatch(new RegExp(`^install/${ids.d2}/`));
  await h.client.workflow.getHandle(started).result();
  await eventually(async () => ((await page.getByTestId(`patch-${SECURITY}`).getByTestId('status').textContent()) === 'Installed' ? true : undefined), 15_000, 'SECURITY Installed on d2');
  await page.getByTestId('workflow-row').filter({ hasText: started }).filter({ hasText: 'completed' }).waitFor({ timeout: 20_000 });

  const tab = await context.newPage();
  await tab.goto(href);
  await tab.waitForLoadState('networkidle').catch(() => undefined);
  await screenshot(tab, '07-temporal-ui-history');
  await tab.close();
});

browserTest("a device page shows a running install's progress live, and Cancel stops it", async () => {
  await signIn();
  await page.goto(`/devices/${ids.dC}`);
  await page.getByTestId(`patch-${SECURITY}`).waitFor();
  await page.getByRole('button', { name: 'Install now' }).click();
  const started = (await page.getByTestId('notice').textContent())!.replace(/^Started /, '');
  await page.getByTestId('live-progress').waitFor({ timeout: 20_000 });
  await page.getByTestId('live-progress').locator('.steps li.current', { hasText: 'execute' }).waitFor({ timeout: 20_000 });
  await screenshot(page, '06-device-live-install');
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.getByText(`Cancel requested for ${started}`).waitFor();
  const result = (await h.client.workflow.getHandle(started).result()) as { outcome: string };
  expect(result.outcome).toBe('cancelled');
  await page.getByTestId('workflow-row').filter({ hasText: started }).filter({ hasText: 'completed' }).waitFor({ timeout: 20_000 });
  // It stopped where it was: the install did not go on to install both patches.
  expect(devices.dC.isInstalled(CRITICAL) && devices.dC.isInstalled(SECURITY)).toBe(false);
});

browserTest('the report form downloads a Patch Overview CSV that parses, with a row per device and patch', async () => {
  await signIn();
  await page.goto('/reports');
  await page.selectOption('#r-client', ids.clientA);
  await page.selectOption('#r-format', 'csv');
  await screenshot(page, '08-reports');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download' }).click()]);
  const file = path.join(h.scratch, 'report.csv');
  await download.saveAs(file);
  const rows = parseCsv(fs.readFileSync(file, 'utf8'), { columns: true, skip_empty_lines: true, bom: true }) as Record<string, string>[];
  expect(rows.length).toBeGreaterThan(0);
  const text = JSON.stringify(rows);
  expect(text).toContain(`NW-SRV-${suffix}-1`);
  expect(text).not.toContain(`FB-SRV-${suffix}-1`);
  expect(text).toContain(ROLLUP);

  // "CSV - Offline Mode": written in the background, then listed with its state and a download link.
  await page.selectOption('#r-format', 'csv-offline');
  await page.getByRole('button', { name: 'Start offline report' }).click();
  const row = page.getByTestId('report-row').first();
  await row.getByRole('button', { name: 'Download CSV' }).waitFor({ timeout: 30_000 });
  expect(await row.textContent()).toContain('done');
  await screenshot(page, '08-reports-offline');
  const [offline] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Download CSV' }).click()]);
  const offlineFile = path.join(h.scratch, 'offline-report.csv');
  await offline.saveAs(offlineFile);
  const offlineRows = parseCsv(fs.readFileSync(offlineFile, 'utf8'), { columns: true, skip_empty_lines: true, bom: true }) as Record<string, string>[];
  expect(offlineRows.length).toBe(rows.length);
});

browserTest('the schedules page pauses, resumes and runs a schedule, and shows its rollout\'s tally', async () => {
  const created = await h.api('POST', '/api/v1/schedules', {
    name: `Nightly ${suffix}`, kind: 'automatic_update', scope: { scopeType: 'client', scopeId: ids.clientB },
    timing: { kind: 'daily', time: '02:00', timezone: 'UTC' },
  });
  expect(created.status).toBeLessThan(300);
  try {
    await signIn();
    await page.goto('/schedules');
    const card = page.getByTestId(`schedule-Nightly ${suffix}`);
    await card.waitFor();
    await card.getByRole('button', { name: 'Pause' }).click();
    await card.getByText('Paused', { exact: true }).waitFor();
    expect(scheduleListResponse.parse((await h.api('GET', '/api/v1/schedules')).body).schedules.find((x) => x.id === created.body.id)?.paused).toBe(true);
    await card.getByRole('button', { name: 'Resume' }).click();
    await card.getByText('Active', { exact: true }).waitFor();
    await card.getByRole('button', { name: 'Run now' }).click();
    await card.getByRole('button', { name: 'Runs' }).click();
    // Client B: one server online with nothing to install (done), one workstation that never polls (offline).
    const finished = card.locator('tbody tr').filter({ hasNotText: 'running' }).first();
    await finished.waitFor({ timeout: 60_000 });
    await card.getByTestId('live-rollout').waitFor({ state: 'detached', timeout: 60_000 }).catch(() => undefined);
    const cells = await finished.locator('td.num').allTextContents();
    // The page's tally is the rollout's own: done, failed, offline, busy, reboot pending.
    const [rollout] = rolloutsResponse.parse((await h.api('GET', `/api/v1/schedules/${created.body.id}/rollouts`)).body).rollouts;
    const c = rollout!.counts as { done: number; failed: number; offline: number; busy: number; rebootPending: number };
    expect(cells).toEqual([c.done, c.failed, c.offline, c.busy, c.rebootPending].map(String));
    expect(c.done).toBeGreaterThanOrEqual(1); // the server with nothing to install
    await screenshot(page, '09-schedules');
  } finally {
    await h.api('DELETE', `/api/v1/schedules/${created.body.id}`);
  }
});

describe('the dashboard routes (no browser)', () => {
  test('the page is served without a key, every data route needs one', async () => {
    for (const p of ['/', '/fleet', `/devices/${ids.d1}`, '/wizard']) {
      const res = await fetch(`${h.server.url}${p}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    }
    for (const p of ['/api/v1/fleet/summary', '/api/v1/fleet/patch-status-counts', '/api/v1/dashboard/config', `/api/v1/devices/${ids.d1}/workflows`]) {
      expect((await fetch(`${h.server.url}${p}`)).status).toBe(401);
    }
  });

  test('bad input gets a 4xx that names what is wrong', async () => {
    const cases: [string, string, unknown, number, RegExp][] = [
      ['GET', '/api/v1/fleet/summary?clientId=nope', undefined, 400, /query\.clientId: must be a client id/],
      ['GET', `/api/v1/fleet/summary?clientId=${randomUUID()}`, undefined, 404, /client/],
      ['POST', '/api/v1/patch-management/preview', {}, 400, /body\.scopeType/],
      ['POST', '/api/v1/patch-management/preview', { scopeType: 'site', scopeId: ids.site1, kbs: ['KB1234567'], action: 'approve' }, 404, /KB1234567/],
      ['POST', '/api/v1/patch-management/preview', { scopeType: 'site', scopeId: randomUUID(), kbs: [ROLLUP], action: 'approve' }, 404, /site/],
      ['POST', '/api/v1/patch-management/preview', { scopeType: 'device_type', scopeId: 'laptop', kbs: [ROLLUP], action: 'approve' }, 400, /server or workstation/],
      ['POST', '/api/v1/patch-management/preview', { scopeType: 'site', scopeId: ids.site1, kbs: [ROLLUP], action: 'explode' }, 400, /body\.action/],
      ['GET', '/api/v1/rollouts/progress?workflowId=install/x', undefined, 400, /rollout workflow id/],
      ['GET', `/api/v1/devices/${randomUUID()}/workflows`, undefined, 404, /device/],
      ['POST', '/dashboard/login', { code: 'short' }, 400, /body\.code/],
      ['POST', '/api/v1/schedules', { name: 'x', kind: 'scan', scope: { scopeType: 'all' }, timing: { kind: 'daily', time: '02:00', timezone: 'UTC' }, kbs: [ROLLUP] }, 400, /body\.kbs: only an automatic_update schedule/],
      ['POST', '/api/v1/schedules', { name: 'x', kind: 'automatic_update', scope: { scopeType: 'all' }, timing: { kind: 'daily', time: '02:00', timezone: 'UTC' }, kbs: ['KB1234567'] }, 404, /KB1234567/],
      ['POST', '/api/v1/schedules', { name: 'x', kind: 'automatic_update', scope: { scopeType: 'all' }, timing: { kind: 'daily', time: '02:00', timezone: 'UTC' }, kbs: [] }, 400, /body\.kbs: name at least one KB/],
      ['POST', '/dashboard/login', { code: 'x'.repeat(32) }, 401, /login code is not valid/],
    ];
    for (const [method, url, body, status, message] of cases) {
      const r = await h.api(method, url, body);
      expect({ url, status: r.status }).toEqual({ url, status });
      expect(r.body.error).toMatch(message);
    }
    // A wrong login code is a failed authentication like any other: audited (and counted per address).
    const audited = await eventually(async () => {
      const { rows } = await h.db.query(`SELECT details FROM audit_log WHERE action = 'auth.failed' AND details->>'path' = '/dashboard/login' ORDER BY id DESC LIMIT 1`);
      return rows[0]?.details as { reason: string } | undefined;
    }, 5_000, 'auth.failed row');
    expect(audited.reason).toBe('login code is not valid');
  });

  test('the wizard preview says which devices an action reaches, and when it reaches none', async () => {
    const preview = async (body: unknown) => patchManagementPreviewResponse.parse((await h.api('POST', '/api/v1/patch-management/preview', body)).body);
    // Approve reaches the client's devices where the patch is Missing, Pending or Failed: as their patch lists say.
    const client = await preview({ scopeType: 'client', scopeId: ids.clientA, kbs: [SECURITY], action: 'approve' });
    const expected: string[] = [];
    for (const d of [ids.d1, ids.d2]) {
      const { patches } = devicePatchesResponse.parse((await h.api('GET', `/api/v1/devices/${d}/patches`)).body);
      if (['missing', 'pending', 'failed'].includes(patches.find((p) => p.kb === SECURITY)!.status)) expected.push(d);
    }
    expect(expected.length).toBeGreaterThan(0);
    expect(client.devices.map((d) => d.deviceId).sort()).toEqual(expected.sort());
    expect(client.unaffected).toBe(2 - expected.length);
    const failed = await preview({ scopeType: 'client', scopeId: ids.clientB, kbs: [SECURITY], action: 'reprocess_failed' });
    expect(failed.devices.map((d) => d.deviceId)).toEqual([ids.dW]);
    expect(failed.unaffected).toBe(2); // the other two servers: installed on one, missing on the other
    const none = await preview({ scopeType: 'device', scopeId: ids.dB, kbs: [SECURITY], action: 'approve' });
    expect(none).toMatchObject({ deviceCount: 0, devices: [] });
    expect(none.message).toMatch(/reaches no device/);
  });

  test("every answer the dashboard reads parses with the API's schemas (a drift fails here)", async () => {
    const policies = policiesResponse.parse((await h.api('GET', '/api/v1/policies')).body);
    const checks: [string, { parse(v: unknown): unknown }][] = [
      ['/api/v1/fleet/summary', fleetSummaryResponse], ['/api/v1/fleet/patch-status-counts', patchStatusCountsResponse],
      ['/api/v1/clients', clientsResponse], ['/api/v1/sites', sitesResponse], ['/api/v1/devices', devicesResponse],
      [`/api/v1/devices/${ids.dW}/patches`, devicePatchesResponse], [`/api/v1/devices/${ids.dW}/approvals`, deviceApprovalsResponse],
      [`/api/v1/devices/${ids.d1}/workflows`, deviceWorkflowsResponse], ['/api/v1/patches', catalogPatchesResponse],
      [`/api/v1/policies/${policies.policies[0]!.id}/summary?groupBy=product`, policySummaryResponse],
      ['/api/v1/reports', reportsResponse], ['/api/v1/schedules', scheduleListResponse],
    ];
    for (const [url, schema] of checks) {
      const r = await h.api('GET', url);
      expect({ url, status: r.status }).toEqual({ url, status: 200 });
      expect(() => schema.parse(r.body)).not.toThrow();
    }
  });
});
