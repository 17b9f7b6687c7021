import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as z from 'zod/mini';
import * as responses from '#domain/responses.ts';
import { httpRoutes, wsGatewayReplies, wsRoutes } from '#functions/routes.ts';
import { ERROR_STATUS } from '#platform/errors.ts';
import { actionDocs, eventDocs, operations, tagDescriptions } from './operations.ts';

/**
 * Writes docs/openapi.json and docs/asyncapi.json from the route table, the
 * very zod schemas the handlers validate with (requests) and declare as their
 * answers (functions/domain/responses.ts), so the documents cannot drift from
 * the code: a unit test regenerates them and compares, and lints them with
 * Redocly's recommended rules and the AsyncAPI parser.
 */
Object.assign(process.env, {
  TABLE_NAME: 'docs',
  WS_ENDPOINT: 'https://example.com',
  JWT_ISSUER: 'https://issuer.example.com',
  JWKS_URI: 'https://issuer.example.com/jwks',
  AWS_REGION: 'us-east-1',
});

type Schema = z.ZodMiniType<unknown>;
type Json = Record<string, unknown>;

const isSchema = (value: unknown): value is Schema =>
  typeof value === 'object' && value !== null && '_zod' in value;

const pascal = (name: string) =>
  name.replace(/(^|[-_])(\w)/g, (_m, _s, c: string) => c.toUpperCase());
const camel = (name: string) => name.replace(/-(\w)/g, (_m, c: string) => c.toUpperCase());

function strip(schema: Json): Json {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

/** A request schema as JSON Schema (what the client sends, before defaults and transforms). */
const inputJson = (schema: Schema, target?: 'draft-7') =>
  strip(z.toJSONSchema(schema as never, { io: 'input', unrepresentable: 'any', target }) as Json);

/**
 * Every named output schema of responses.ts as a component, referenced by
 * `$ref` wherever it appears inside another.
 */
function outputComponents(target?: 'draft-7') {
  const registry = z.registry<{ id: string }>();
  const names = new Map<unknown, string>();
  for (const [name, value] of Object.entries(responses)) {
    if (!isSchema(value) || names.has(value)) continue;
    names.set(value, pascal(name));
    registry.add(value, { id: pascal(name) });
  }
  for (const [event, schema] of Object.entries(responses.serverEventData)) {
    if (names.has(schema)) continue;
    names.set(schema, `${pascal(event)}Event`);
    registry.add(schema, { id: `${pascal(event)}Event` });
  }
  const all = z.toJSONSchema(registry, {
    io: 'output',
    unrepresentable: 'any',
    target,
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, Json> };
  const schemas = Object.fromEntries(
    Object.entries(all.schemas).map(([name, schema]) => [name, strip(schema)]),
  );
  const ref = (schema: unknown) => {
    const name = names.get(schema);
    if (!name) throw new Error('A response schema must be a named export of responses.ts');
    return { $ref: `#/components/schemas/${name}` };
  };
  return { schemas, ref };
}

/** Keeps only the components something in `doc` refers to, directly or through another. */
function pruneSchemas(doc: Json & { components: { schemas: Record<string, Json> } }) {
  const { schemas } = doc.components;
  const { components: _c, ...rest } = doc;
  const used = new Set<string>();
  const visit = (value: unknown) => {
    for (const m of JSON.stringify(value).matchAll(/#\/components\/schemas\/(\w+)/g)) {
      const name = m[1]!;
      if (used.has(name)) continue;
      used.add(name);
      visit(schemas[name]);
    }
  };
  visit(rest);
  visit(Object.values(doc.components).filter((c) => c !== schemas));
  // Sorted: module namespace order differs between tsx and vitest.
  doc.components.schemas = Object.fromEntries(
    Object.entries(schemas)
      .filter(([name]) => used.has(name))
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/** Contract codes by status: the AppError family, and those a pending feature adds. */
const CONTRACT_CODES: Record<string, number> = { ...ERROR_STATUS, CURSOR_EXPIRED: 410 };
const codesFor = (status: number) =>
  Object.entries(CONTRACT_CODES)
    .filter(([, s]) => s === status)
    .map(([code]) => code);

const ERROR_NAMES: Record<number, [string, string]> = {
  400: ['ValidationError', 'The body, query or path is malformed or out of bounds'],
  401: ['Unauthorized', 'No valid bearer token'],
  403: [
    'Forbidden',
    'Not a member, not an admin, not a moderator, or not allowed; BLOCKED; SUSPENDED (the caller, on every route)',
  ],
  404: ['NotFound', 'No such room, message, key or user (or a room the caller deleted)'],
  409: ['Conflict', 'The operation conflicts with the current state; try again'],
  410: ['CursorExpired', 'The sync cursor is older than the sync window; reload the rooms'],
  413: ['PayloadTooLarge', 'The body is over 32 KB'],
  422: ['Unprocessable', 'The request is well-formed but cannot be carried out'],
  429: ['RateLimited', 'Over a per-user rate limit; retry after `Retry-After` seconds'],
  500: ['Internal', 'Anything else; the body never carries internals'],
};

const SUCCESS_TEXT: Record<number, string> = { 200: 'OK', 201: 'Created' };

function openApiDocument(
  ops: Json,
  tags: Set<string>,
  output: ReturnType<typeof outputComponents>,
  errorStatuses: Set<number>,
) {
  const errorResponses = Object.fromEntries(
    [...errorStatuses].sort().map((status) => {
      const [name, description] = ERROR_NAMES[status]!;
      const code = codesFor(status)[0] ?? 'INTERNAL';
      return [
        name,
        {
          description,
          ...(status === 429
            ? {
                headers: {
                  'Retry-After': {
                    description: 'Seconds to wait before trying again',
                    schema: { type: 'integer', minimum: 1 },
                  },
                },
              }
            : {}),
          content: {
            'application/json': {
              schema: { $ref: '#/components/schemas/ErrorEnvelope' },
              example: { success: false, error: { code, message: description } },
            },
          },
        },
      ];
    }),
  );
  const doc = {
    openapi: '3.1.0',
    info: {
      title: 'Chat backend HTTP API',
      version: '1.0.0',
      description:
        "The chat backend's HTTP API: rooms, messages, per-user chat state, unread counts, encryption keys, push devices and sync. Every call needs a bearer JWT. The WebSocket half is docs/asyncapi.json. Every answer is an envelope: `{success: true, message?, data}` or `{success: false, error: {code, message}}`. Generated by docs/generate.ts from functions/routes.ts, the handlers' zod schemas and functions/domain/responses.ts.",
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    },
    servers: [
      { url: 'http://127.0.0.1:3000', description: 'Local stack (`npm start`)' },
      {
        url: 'https://{api_id}.execute-api.{region}.amazonaws.com',
        description: 'A deployed stack (its `HttpApiUrl` output)',
        variables: {
          api_id: { default: 'your-api-id', description: 'The HTTP API id' },
          region: { default: 'us-east-1', description: 'The AWS region' },
        },
      },
    ],
    security: [{ bearer: [] }],
    tags: [...tags].map((name) => ({
      name,
      description: tagDescriptions[name as keyof typeof tagDescriptions],
    })),
    paths: ops,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'An RS256 JWT from the app’s identity provider; `sub` is the user id, `name` the display name. Locally: POST /local/token {"sub","name"}.',
        },
      },
      responses: errorResponses,
      schemas: {
        ...output.schemas,
        ErrorEnvelope: {
          type: 'object',
          required: ['success', 'error'],
          additionalProperties: false,
          properties: {
            success: { const: false },
            error: {
              type: 'object',
              required: ['code', 'message'],
              additionalProperties: false,
              properties: {
                code: { type: 'string', enum: Object.keys(CONTRACT_CODES) },
                message: { type: 'string' },
              },
            },
          },
        },
      },
    },
  };
  pruneSchemas(doc);
  return doc;
}

/** A function's handler, by its route-table path (functions/<path>.ts). */
export async function handlerOf<T>(path: string): Promise<T> {
  const url = pathToFileURL(resolve(import.meta.dirname, '..', 'functions', `${path}.ts`)).href;
  return (await import(/* @vite-ignore */ url)).handler as T;
}

function parametersOf(schemas: { query?: Schema; params?: Schema }) {
  const list = (schema: Schema | undefined, where: 'path' | 'query') => {
    if (!schema) return [];
    const json = inputJson(schema) as { properties?: Record<string, Json>; required?: string[] };
    return Object.entries(json.properties ?? {}).map(([name, s]) => {
      const { description, ...rest } = s;
      return {
        name,
        in: where,
        required: where === 'path' || (json.required ?? []).includes(name),
        ...(description ? { description } : {}),
        schema: rest,
      };
    });
  };
  return [...list(schemas.params, 'path'), ...list(schemas.query, 'query')];
}

export async function buildDocuments() {
  const output = outputComponents();
  const paths: Record<string, Record<string, unknown>> = {};
  const tags = new Set<string>();
  const errorStatuses = new Set<number>();
  for (const route of httpRoutes) {
    const key = `${route.method} ${route.path}`;
    const doc = operations[key];
    if (!doc) throw new Error(`docs/operations.ts has no entry for ${key}`);
    const { schemas } = await handlerOf<{
      schemas: { body?: Schema; query?: Schema; params?: Schema; response?: { name: string } };
    }>(route.handler);
    const response =
      schemas.response && (responses as Record<string, unknown>)[schemas.response.name];
    if (!response) throw new Error(`${route.handler} declares no response schema`);
    const parameters = parametersOf(schemas);
    // 403 SUSPENDED may answer any route (CONTRACT §9).
    const errors = new Set([
      400,
      401,
      403,
      ...(schemas.body ? [413] : []),
      ...doc.errors,
      429,
      500,
    ]);
    for (const status of errors) errorStatuses.add(status);
    tags.add(doc.tag);
    const data = output.ref(response as Schema);
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      operationId: camel(route.handler.replace('http/', '')),
      summary: doc.summary,
      ...(doc.description ? { description: doc.description } : {}),
      tags: [doc.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(schemas.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: inputJson(schemas.body) } },
            },
          }
        : {}),
      responses: {
        ...Object.fromEntries(
          (doc.success ?? [200]).map((status) => [
            String(status),
            {
              description: SUCCESS_TEXT[status] ?? 'Success',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['success', 'data'],
                    additionalProperties: false,
                    properties: { success: { const: true }, message: { type: 'string' }, data },
                  },
                },
              },
            },
          ]),
        ),
        ...Object.fromEntries(
          [...errors]
            .sort()
            .map((s) => [String(s), { $ref: `#/components/responses/${ERROR_NAMES[s]![0]}` }]),
        ),
      },
    };
  }
  const openapi = openApiDocument(paths, tags, output, errorStatuses);
  return { openapi, asyncapi: await asyncApiDocument() };
}

/** The WebSocket protocol, from the server's side: it receives actions, sends events. */
async function asyncApiDocument() {
  const output = outputComponents('draft-7');
  const actionPayloads = new Map<string, Json>();
  for (const route of wsRoutes) {
    if (route.routeKey.startsWith('$')) continue;
    const { schema } = await handlerOf<{ schema: Schema }>(route.handler);
    actionPayloads.set(route.routeKey, inputJson(schema, 'draft-7'));
  }
  // Answered by API Gateway itself (ping): no handler, no fields, still part of the protocol.
  for (const reply of wsGatewayReplies) {
    actionPayloads.set(reply.routeKey, {
      type: 'object',
      properties: {},
      additionalProperties: {},
    });
  }
  for (const [action, schema] of Object.entries(responses.contractActions)) {
    const contract = inputJson(schema, 'draft-7');
    const served = actionPayloads.get(action)?.properties as Json | undefined;
    const declared = Object.keys(contract.properties as Json);
    // A handler that does not yet read the contract's fields is documented by the contract.
    if (!served || declared.some((p) => !(p in served))) actionPayloads.set(action, contract);
  }
  const messages: Record<string, Json> = {};
  for (const [action, json] of actionPayloads) {
    messages[action] = {
      name: action,
      title: `${action} (client → server)`,
      summary: actionDocs[action] ?? action,
      payload: {
        ...json,
        type: 'object',
        required: ['action', ...((json.required as string[]) ?? [])],
        properties: { action: { const: action }, ...((json.properties as Json) ?? {}) },
      },
    };
  }
  const events = Object.keys(responses.allServerEventData) as responses.ServerEventName[];
  for (const event of events) {
    messages[event] = {
      name: event,
      title: `${event} (server → client)`,
      summary: eventDocs[event] ?? event,
      payload: {
        type: 'object',
        required: ['event', 'data'],
        additionalProperties: false,
        properties: {
          event: { const: event },
          data: output.ref(responses.allServerEventData[event]),
        },
      },
    };
  }
  const replies: Record<string, string> = {
    'send-message': 'message-confirmed',
    sync: 'sync-result',
    ...Object.fromEntries(wsGatewayReplies.map((r) => [r.routeKey, r.event])),
  };
  const channel = { $ref: '#/channels/socket' };
  const messageRef = (name: string) => ({ $ref: `#/channels/socket/messages/${name}` });
  const operationsDoc: Record<string, Json> = {};
  for (const action of actionPayloads.keys()) {
    operationsDoc[camel(action)] = {
      action: 'receive',
      channel,
      summary: actionDocs[action] ?? action,
      messages: [messageRef(action)],
      ...(replies[action] ? { reply: { channel, messages: [messageRef(replies[action])] } } : {}),
    };
  }
  for (const event of events) {
    operationsDoc[`on${pascal(event)}`] = {
      action: 'send',
      channel,
      summary: eventDocs[event] ?? event,
      messages: [messageRef(event)],
    };
  }
  const security = [{ $ref: '#/components/securitySchemes/token' }];
  const doc = {
    asyncapi: '3.1.0',
    info: {
      title: 'Chat backend WebSocket API',
      version: '1.0.0',
      description:
        'Client frames are JSON with an `action`; server frames are `{"event", "data"}`. Send `ping` every 25 seconds: the server closes a connection that sent nothing for 60 seconds. Open a new connection before 2 hours, when API Gateway closes every connection. Events are delivered at least once: de-duplicate by id. The HTTP half is docs/openapi.json. Generated by docs/generate.ts.',
    },
    defaultContentType: 'application/json',
    servers: {
      local: {
        host: '127.0.0.1:3001',
        protocol: 'ws',
        description: 'Local stack (`npm start`)',
        security,
      },
      deployed: {
        host: '{api_id}.execute-api.{region}.amazonaws.com',
        pathname: '/{stage}',
        protocol: 'wss',
        description: 'A deployed stack (its `WebSocketUrl` output)',
        variables: {
          api_id: { default: 'your-api-id', description: 'The WebSocket API id' },
          region: { default: 'us-east-1', description: 'The AWS region' },
          stage: { default: 'prod', description: 'The stage name' },
        },
        security,
      },
    },
    channels: {
      socket: {
        address: '/',
        title: 'The chat connection',
        description: 'One WebSocket per device; every frame in either direction is JSON.',
        messages,
      },
    },
    operations: operationsDoc,
    components: {
      securitySchemes: {
        token: {
          type: 'httpApiKey',
          in: 'query',
          name: 'token',
          description:
            'The JWT as `?token=` on the connect URL, or as the second value of `Sec-WebSocket-Protocol` (the server echoes the first). A bad token refuses the upgrade with 401.',
        },
      },
      schemas: output.schemas,
    },
  };
  pruneSchemas(doc);
  for (const message of Object.values(messages)) {
    message.examples = [
      {
        name: 'frame',
        // A client frame shows what it needs (optional fields can rule each other out:
        // ciphertext needs is_encrypted); a server frame shows every field it carries.
        payload: exampleOf(
          message.payload as Json,
          doc.components.schemas,
          '',
          0,
          String(message.title).endsWith('(server → client)') ? 2 : 0,
        ),
      },
    ];
  }
  return doc;
}

/**
 * An example frame for a message, made from its schema so it cannot drift from
 * it: constants, enums and defaults where the schema has them, a plausible value
 * by type and name elsewhere. Optional fields appear down to `optionalDepth`
 * (an app developer sees what an event may carry), required and defaulted ones
 * everywhere.
 */
function exampleOf(
  schema: Json,
  schemas: Record<string, Json>,
  name = '',
  depth = 0,
  optionalDepth = 2,
): unknown {
  const deeper = (s: Json, key: string, d: number) => exampleOf(s, schemas, key, d, optionalDepth);
  const ref = schema.$ref as string | undefined;
  if (ref) return deeper(schemas[ref.split('/').pop()!] ?? {}, name, depth);
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const options = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  if (options) {
    const chosen = options.find((o) => o.type !== 'null') ?? options[0]!;
    return deeper(chosen, name, depth);
  }
  const type = Array.isArray(schema.type)
    ? (schema.type as string[]).find((t) => t !== 'null')
    : (schema.type as string | undefined);
  if (schema.default !== undefined && schema.default !== '' && type !== 'object')
    return schema.default;
  if (type === 'object' || schema.properties) {
    const properties = (schema.properties ?? {}) as Record<string, Json>;
    const required = new Set((schema.required as string[] | undefined) ?? []);
    return Object.fromEntries(
      Object.entries(properties)
        .filter(([key, value]) => depth < optionalDepth || required.has(key) || 'default' in value)
        .map(([key, value]) => [key, deeper(value, key, depth + 1)]),
    );
  }
  if (type === 'array') {
    const items = (schema.items ?? {}) as Json;
    return depth < 3 ? [deeper(items, name.replace(/s$/, ''), depth + 1)] : [];
  }
  if (type === 'integer' || type === 'number') return Math.max(1, Number(schema.minimum ?? 1));
  if (type === 'boolean') return false;
  if (type === 'string') {
    if (schema.format === 'date-time' || /(_at|_until|timestamp|time)$/.test(name))
      return '2026-01-01T12:00:00.000Z';
    if (schema.format === 'uri') return 'https://example.com/file';
    if (name === 'message_id' || name === 'id' || name.endsWith('message_id'))
      return '01J0000000000000000000ROOM.1';
    if (name.endsWith('_id') || name === 'cursor') return `${name.replace(/_id$/, '')}_1`;
    if (name === 'content') return 'hello';
    return name || 'text';
  }
  return null;
}

const asText = (doc: unknown) => `${JSON.stringify(doc, null, 2)}\n`;
export const documentPaths = {
  openapi: resolve(import.meta.dirname, 'openapi.json'),
  asyncapi: resolve(import.meta.dirname, 'asyncapi.json'),
};
export const render = async () => {
  const { openapi, asyncapi } = await buildDocuments();
  return { openapi: asText(openapi), asyncapi: asText(asyncapi) };
};

if (process.argv[1] === import.meta.filename) {
  const docs = await render();
  writeFileSync(documentPaths.openapi, docs.openapi);
  writeFileSync(documentPaths.asyncapi, docs.asyncapi);
  console.log('wrote docs/openapi.json and docs/asyncapi.json');
}
