import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { httpRoutes, wsRoutes } from '#functions/routes.ts';
import { documentPaths, render } from '../../docs/generate.ts';

it('keeps docs/openapi.json and docs/asyncapi.json in step with the routes and schemas (run `npm run docs`)', async () => {
  const fresh = await render();
  expect(readFileSync(documentPaths.openapi, 'utf8')).toBe(fresh.openapi);
  expect(readFileSync(documentPaths.asyncapi, 'utf8')).toBe(fresh.asyncapi);
  const openapi = JSON.parse(fresh.openapi) as { paths: Record<string, Record<string, unknown>> };
  for (const route of httpRoutes)
    expect(openapi.paths[route.path]?.[route.method.toLowerCase()]).toBeDefined();
  const asyncapi = JSON.parse(fresh.asyncapi) as {
    channels: { socket: { messages: Record<string, unknown> } };
  };
  for (const route of wsRoutes.filter((r) => !r.routeKey.startsWith('$'))) {
    expect(asyncapi.channels.socket.messages[route.routeKey]).toBeDefined();
  }
});
