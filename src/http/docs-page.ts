/** The API reference page at /docs: Swagger UI from the installed package (no CDN), reading openapi.yaml. */
import express, { type Router } from 'express';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const require = createRequire(import.meta.url);

export function docsRouter(contractFile: string, title: string): Router {
  const router = express.Router();
  const assets = dirname(require.resolve('swagger-ui-dist/package.json'));
  const yamlText = readFileSync(contractFile, 'utf8');
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title.replace(/</g, '&lt;')} – API reference</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/docs/openapi.yaml', dom_id: '#ui', deepLinking: true });</script>
</body></html>`;
  router.get('/docs', (_req, res) => {
    res.type('html').send(page);
  });
  router.get('/docs/openapi.yaml', (_req, res) => {
    res.type('application/yaml').send(yamlText);
  });
  router.use('/docs/assets', express.static(assets, { index: false, maxAge: '1h' }));
  return router;
}
