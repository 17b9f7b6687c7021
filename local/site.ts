import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { resolve } from 'node:path';

/**
 * Pages the local stack serves beside the API (never deployed): the rendered
 * API reference at /docs (Swagger UI from the swagger-ui-dist package for the
 * OpenAPI document, and a page of the AsyncAPI actions and events) and the
 * playground at /playground, built on client/ with esbuild on first request.
 * `/` links both. The documents are served with their local server set to where
 * this stack listens (HTTP_PORT and WS_PORT may be anything).
 */
const root = resolve(import.meta.dirname, '..');
const siteConfig = { httpUrl: 'http://127.0.0.1:3000', wsUrl: 'ws://127.0.0.1:3001' };

/** The stack tells the pages where its APIs listen. */
export function configureSite(config: { httpUrl: string; wsUrl: string }) {
  siteConfig.httpUrl = config.httpUrl;
  siteConfig.wsUrl = config.wsUrl;
}

/** A committed document with its local server pointed at this stack. */
async function localDocument(which: 'openapi' | 'asyncapi'): Promise<string> {
  const doc = JSON.parse(await readFile(resolve(root, `docs/${which}.json`), 'utf8'));
  if (which === 'openapi') {
    doc.servers = doc.servers.map((server: { url: string; description?: string }) =>
      server.url.startsWith('http://127.0.0.1') ? { ...server, url: siteConfig.httpUrl } : server,
    );
  } else if (doc.servers?.local) {
    doc.servers.local.host = new URL(siteConfig.wsUrl).host;
  }
  return JSON.stringify(doc);
}

const INDEX = () => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chat backend (local)</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto">
<h1>Chat backend, running locally</h1>
<ul>
<li><a href="/docs/">API reference</a>: the HTTP API (OpenAPI) and the WebSocket protocol (AsyncAPI)</li>
<li><a href="/playground/">Playground</a>: two users side by side</li>
</ul>
<p>HTTP API: <code>${siteConfig.httpUrl}</code> · WebSocket API: <code>${siteConfig.wsUrl}</code> ·
a token: <code>curl -s -XPOST ${siteConfig.httpUrl}/local/token -d '{"sub":"u_alice"}'</code></p>
</body></html>`;

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
  png: 'image/png',
};

const FILES: Record<string, string> = {
  '/docs/': 'local/site/docs.html',
  '/docs/swagger-ui.css': 'node_modules/swagger-ui-dist/swagger-ui.css',
  '/docs/swagger-ui-bundle.js': 'node_modules/swagger-ui-dist/swagger-ui-bundle.js',
  '/playground/': 'local/site/playground.html',
};

let playgroundBundle: Promise<string> | undefined;

/** The playground's script: client/ and the page code, one ES module for the browser. */
export function bundlePlayground(minify = false): Promise<string> {
  const build = async () => {
    const esbuild = await import('esbuild');
    const result = await esbuild.build({
      entryPoints: [resolve(root, 'local/site/playground.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify,
      write: false,
      logLevel: 'silent',
    });
    return result.outputFiles[0]!.text;
  };
  if (minify) return build();
  playgroundBundle ??= build().catch((error: unknown) => {
    playgroundBundle = undefined;
    throw error;
  });
  return playgroundBundle;
}

function reply(res: ServerResponse, status: number, type: string, body: string | Buffer) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

/** Answers a GET for a page of the site; false when the path is not one. */
export async function serveSite(path: string, res: ServerResponse): Promise<boolean> {
  if (path === '/docs' || path === '/playground') {
    res.writeHead(302, { location: `${path}/` }).end();
    return true;
  }
  if (path === '/playground/app.js') {
    reply(res, 200, TYPES.js!, await bundlePlayground());
    return true;
  }
  if (path === '/') {
    reply(res, 200, TYPES.html!, INDEX());
    return true;
  }
  if (path === '/docs/openapi.json' || path === '/docs/asyncapi.json') {
    reply(
      res,
      200,
      TYPES.json!,
      await localDocument(path.includes('openapi') ? 'openapi' : 'asyncapi'),
    );
    return true;
  }
  if (path === '/playground/config.json') {
    reply(res, 200, TYPES.json!, JSON.stringify(siteConfig));
    return true;
  }
  const file = FILES[path];
  if (!file) return false;
  const ext = file.slice(file.lastIndexOf('.') + 1);
  reply(res, 200, TYPES[ext] ?? 'application/octet-stream', await readFile(resolve(root, file)));
  return true;
}
