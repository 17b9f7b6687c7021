import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';
import { expect, it } from 'vitest';
import { httpRoutes, wsRoutes } from '#functions/routes.ts';
import { documentPaths, handlerOf, render } from '../../docs/generate.ts';

// `npm run lint` runs `redocly lint` (recommended rules) on docs/openapi.json; these
// check that the documents are current and complete, and that AsyncAPI validates.
const fresh = await render();

it('keeps docs/openapi.json and docs/asyncapi.json in step with the routes and schemas (run `npm run docs`)', () => {
  expect(readFileSync(documentPaths.openapi, 'utf8')).toBe(fresh.openapi);
  expect(readFileSync(documentPaths.asyncapi, 'utf8')).toBe(fresh.asyncapi);
});

type Operation = {
  operationId: string;
  summary: string;
  responses: Record<string, { content?: Record<string, { schema: unknown }>; $ref?: string }>;
};

it('documents every route with a summary, an id, its success status with a typed body, and its errors', () => {
  const openapi = JSON.parse(fresh.openapi) as { paths: Record<string, Record<string, Operation>> };
  const ids = new Set<string>();
  for (const route of httpRoutes) {
    const op = openapi.paths[route.path]?.[route.method.toLowerCase()];
    expect(op, `${route.method} ${route.path}`).toBeDefined();
    expect(op!.summary.length).toBeGreaterThan(5);
    ids.add(op!.operationId);
    const success = Object.keys(op!.responses).filter((s) => s.startsWith('2'));
    expect(success.length).toBeGreaterThan(0);
    for (const status of success) {
      const body = JSON.stringify(op!.responses[status]!.content?.['application/json']?.schema);
      expect(body).toMatch(/"data":\{"\$ref":"#\/components\/schemas\/\w+"\}/);
    }
    for (const status of ['400', '401', '429', '500'])
      expect(op!.responses[status]?.$ref).toMatch(/^#\/components\/responses\//);
  }
  expect(ids.size).toBe(httpRoutes.length);
  const created = (path: string) => Object.keys(openapi.paths[path]!.post!.responses);
  expect(created('/api/chat/rooms')).toContain('201');
  expect(created('/api/chat/rooms/{room_id}/messages')).toContain('201');
});

it('describes every action and event of the WebSocket protocol, and validates as AsyncAPI', async () => {
  const asyncapi = JSON.parse(fresh.asyncapi) as {
    servers: Record<string, unknown>;
    channels: { socket: { messages: Record<string, unknown> } };
  };
  const messages = Object.keys(asyncapi.channels.socket.messages);
  const contract = [
    ...['send-message', 'mark-messages-seen', 'ping', 'room-archive', 'sync', 'typing'],
    ...['message-confirmed', 'new-chat-message', 'messages-seen', 'unread-count-update', 'pong'],
    ...['room-archived', 'sync-result', 'user-typing', 'chat-user-status-update', 'room-deleted'],
    ...['room-messages-cleared', 'message-deleted', 'encryption-key-changed', 'error'],
    ...['room-member-added', 'room-member-removed'],
  ];
  expect(messages).toEqual(expect.arrayContaining(contract));
  for (const route of wsRoutes.filter((r) => !r.routeKey.startsWith('$')))
    expect(messages).toContain(route.routeKey);
  expect(Object.keys(asyncapi.servers).length).toBeGreaterThanOrEqual(2);

  const { diagnostics } = await new Parser().parse(fresh.asyncapi);
  // Severity 0 is an error, 1 a warning.
  expect(diagnostics.filter((d) => d.severity <= 1).map((d) => d.message)).toEqual([]);
}, 30_000);

/** The value at a path of generated JSON (undefined when any step is missing). */
const dig = (value: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], value);

it('documents what issue 15 added: key is_active, the typing frame from its handler, ping answered by pong', () => {
  const openapi: unknown = JSON.parse(fresh.openapi);
  const keysPath = ['paths', '/api/chat/encryption/keys/{user_id}', 'get', 'responses', '200'];
  const data = ['content', 'application/json', 'schema', 'properties', 'data', '$ref'];
  const ref = dig(openapi, ...keysPath, ...data) as string;
  const keyItem = dig(openapi, 'components', 'schemas', ref.split('/').at(-1)!, 'properties');
  const item = dig(keyItem, 'keys', 'items') as { required: string[]; properties: unknown };
  expect(item.required).toContain('is_active');
  expect(dig(item.properties, 'is_active')).toEqual({ type: 'boolean' });

  const asyncapi: unknown = JSON.parse(fresh.asyncapi);
  const typing = dig(asyncapi, 'channels', 'socket', 'messages', 'typing', 'payload');
  expect(dig(typing, 'required')).toEqual(
    expect.arrayContaining(['action', 'room_id', 'is_typing']),
  );
  // Documented from the handler's own schema (it has the room id pattern).
  expect(dig(typing, 'properties', 'room_id', 'pattern')).toEqual(expect.any(String));
  expect(dig(asyncapi, 'operations', 'ping', 'reply', 'messages')).toEqual([
    { $ref: '#/channels/socket/messages/pong' },
  ]);
});

it('gives every WebSocket message an example frame that its own schema accepts', async () => {
  const { allServerEventData } = await import('#domain/responses.ts');
  let checked = 0;
  const asyncapi = JSON.parse(fresh.asyncapi) as {
    channels: { socket: { messages: Record<string, { examples?: { payload: Json }[] }> } };
  };
  const messages = asyncapi.channels.socket.messages;
  for (const [name, message] of Object.entries(messages)) {
    expect(message.examples?.length, name).toBe(1);
    const frame = message.examples![0]!.payload;
    if (name in allServerEventData) {
      expect(frame.event).toBe(name);
      const schema = allServerEventData[name as keyof typeof allServerEventData];
      const parsed = schema.safeParse(frame.data);
      expect(parsed.success, `${name}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
    } else {
      expect(frame.action).toBe(name);
      // The schema the action's handler validates with; ping is answered by the gateway.
      const route = wsRoutes.find((r) => r.routeKey === name);
      if (!route) {
        expect(frame, name).toEqual({ action: name });
        continue;
      }
      const handler = await handlerOf<{
        schema: { safeParse(v: unknown): { success: boolean; error?: unknown } };
      }>(route.handler);
      const parsed = handler.schema.safeParse(frame);
      expect(parsed.success, `${name}: ${JSON.stringify(parsed.error)}`).toBe(true);
      checked++;
    }
  }
  // Every action with a handler was parsed by that handler's own schema.
  expect(checked).toBe(wsRoutes.filter((r) => !r.routeKey.startsWith('$')).length);
});

type Json = Record<string, unknown>;
