import path from 'node:path';
import express, { type Router } from 'express';
import { buildOpenApiDocument } from './openapi';

/** swagger-ui-dist's folder: the docs page is served from the package, never from a CDN. */
const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));

/**
 * The docs page. The page and Swagger UI's files are static (no data of this deployment), so they
 * need no key; the contract itself (openapi.json) and every call made from the page carry the key
 * the operator types in, kept in this tab's sessionStorage only.
 */
const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Patchflow API</title>
  <link rel="stylesheet" href="docs/assets/swagger-ui.css">
  <style>body{margin:0;font-family:sans-serif} #key{padding:12px 20px;background:#1b1b1b;color:#fff} #key input{width:360px}</style>
</head>
<body>
  <form id="key">API key: <input type="password" name="key" autocomplete="off"> <button>Load the API</button></form>
  <div id="ui"></div>
  <script src="docs/assets/swagger-ui-bundle.js"></script>
  <script>
    function load(key) {
      SwaggerUIBundle({
        url: 'openapi.json', dom_id: '#ui', deepLinking: true,
        requestInterceptor: function (req) { req.headers['X-API-Key'] = key; return req; },
      });
    }
    var form = document.getElementById('key');
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      sessionStorage.setItem('patchflow-api-key', form.key.value);
      load(form.key.value);
    });
    var saved = sessionStorage.getItem('patchflow-api-key');
    if (saved) load(saved);
  </script>
</body>
</html>
`;

/** GET /api/v1/docs and its assets: no key (static files only). Mount before the operators' auth. */
export function createDocsRouter(): Router {
  const router = express.Router();
  router.get('/docs', (_req, res) => {
    res.type('html').set('Cache-Control', 'no-store').send(DOCS_PAGE);
  });
  const assets = ['swagger-ui.css', 'swagger-ui-bundle.js'];
  router.get('/docs/assets/:file', (req, res) => {
    if (!assets.includes(req.params.file)) { res.status(404).json({ error: `no docs asset ${req.params.file}` }); return; }
    res.sendFile(path.join(SWAGGER_UI_DIR, req.params.file), { maxAge: '1h' });
  });
  return router;
}

/** GET /api/v1/openapi.json: the contract, generated once per process. Mount behind the operators' auth. */
export function createOpenApiRouter(): Router {
  const router = express.Router();
  let document: unknown;
  router.get('/openapi.json', (_req, res) => {
    document ??= buildOpenApiDocument();
    res.json(document);
  });
  return router;
}
