import { API_KEY, startHarness, type Harness } from './harness';

/** The contract and its docs page as served: the document needs a key, the static page does not. */
let h: Harness;
beforeAll(async () => { h = await startHarness({ startWorker: false }); });
afterAll(async () => { await h.stop(); });

test('GET /api/v1/openapi.json answers the OpenAPI 3.1 document with a key, 401 without', async () => {
  const withKey = await h.api('GET', '/api/v1/openapi.json');
  expect(withKey.status).toBe(200);
  expect(withKey.body.openapi).toBe('3.1.0');
  expect(Object.keys(withKey.body.paths)).toEqual(expect.arrayContaining(['/healthz', '/api/v1/devices/{deviceId}', '/agent/v1/commands']));
  const without = await fetch(`${h.server.url}/api/v1/openapi.json`);
  expect(without.status).toBe(401);
});

test('GET /api/v1/docs is Swagger UI from the bundled package, loading the document with the key typed in', async () => {
  const page = await fetch(`${h.server.url}/api/v1/docs`);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  const html = await page.text();
  expect(html).toContain('docs/assets/swagger-ui-bundle.js');
  expect(html).toContain("url: 'openapi.json'");
  expect(html).not.toMatch(/https?:\/\//);
  const script = await fetch(`${h.server.url}/api/v1/docs/assets/swagger-ui-bundle.js`);
  expect(script.status).toBe(200);
  expect((await script.text()).length).toBeGreaterThan(100_000);
  const css = await fetch(`${h.server.url}/api/v1/docs/assets/swagger-ui.css`);
  expect(css.headers.get('content-type')).toMatch(/^text\/css/);
  expect((await fetch(`${h.server.url}/api/v1/docs/assets/package.json`)).status).toBe(404);
  // The page's key reaches the document the way the page sends it.
  expect((await fetch(`${h.server.url}/api/v1/openapi.json`, { headers: { 'X-API-Key': API_KEY } })).status).toBe(200);
});
