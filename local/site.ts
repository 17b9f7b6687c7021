import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { resolve } from 'node:path';

/**
 * Pages the local stack serves beside the API (never deployed): the rendered
 * API reference at /docs (Swagger UI from the swagger-ui-dist package for the
 * OpenAPI document, and a page of the AsyncAPI actions and events) and the
 * playground at /playground, built on client/ with esbuild on first request.
 */
const root = resolve(import.meta.dirname, '..');
const siteConfig = { wsUrl: 'ws://127.0.0.1:3001' };

/** The stack tells the playground where its WebSocket API listens. */
export function configureSite(config: { wsUrl: string }) {
  siteConfig.wsUrl = config.wsUrl;
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
  png: 'image/png',
};

const FILES: Record<string, string> = {
  '/docs/': 'local/site/docs.html',
  '/docs/openapi.json': 'docs/openapi.json',
  '/docs/asyncapi.json': 'docs/asyncapi.json',
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
