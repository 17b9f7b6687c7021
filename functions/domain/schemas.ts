/**
 * Input schemas. zod/mini rather than classic zod: the same engine and error
 * issues, but tree-shakeable — classic zod alone would add ~440 KB to every
 * Lambda bundle.
 */
import * as z from 'zod/mini';
import { LIMITS } from '#platform/limits.ts';
import { isStorableUserId } from '#platform/user-id.ts';
import { ATTACHMENT_TYPES } from './attachment-rules.ts';
import { REPORT_REASONS, RESOLVE_ACTIONS, WHO_CAN_ADD_ME } from './model.ts';
import { acceptPublicKey } from './public-key.ts';

/**
 * Names that break a plain object used as a map: `__proto__` assigns the
 * prototype, the others shadow or read inherited members. Refused as map keys in
 * free-form JSON and as every client-chosen id (ids become sort keys, attribute
 * names and map keys: a device_id of `__proto__` once took `npm start` down).
 */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const notReserved = z.refine<string>(
  (s) => !RESERVED_KEYS.has(s),
  'must not be a reserved name (__proto__, constructor, prototype)',
);
/** A client-chosen id: bounded text that is never a reserved name. */
const id = (min: number, max: number) =>
  z.string().check(z.minLength(min), z.maxLength(max), notReserved);

/**
 * Ids are opaque; this bounds their shape so keys stay well-formed. User ids
 * come from the identity provider and keep its rule (platform/user-id.ts):
 * `__proto__` is refused there, `constructor` and the like are users the
 * store handles as plain keys (test/e2e/regressions.test.ts, authz-matrix).
 */
export const userId = z.string().check(
  z.trim(),
  z.minLength(1),
  z.maxLength(128),
  // The same rule as a token's subject: no # or spaces, and not a reserved name.
  z.refine(isStorableUserId, 'must be well-formed text with no # or spaces, and not __proto__'),
);
export const roomId = id(1, 64).check(z.regex(/^[0-9A-Za-z_-]+$/, 'is not a room id'));
export const messageId = id(3, 80);

/**
 * A lone UTF-16 surrogate is not text: DynamoDB and SQS may refuse it. With the
 * `u` flag this class matches only unpaired surrogates.
 */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const wellFormed = z.refine<string>((s) => !LONE_SURROGATE.test(s), 'must be valid Unicode text');

/** DynamoDB stores magnitudes from 1e-130; larger than 2^53 the SDK refuses a JS number. */
const SMALLEST_MAGNITUDE = 1e-130;

export interface JsonRules {
  maxDepth: number;
  maxBytes: number;
  maxKeyChars: number;
}

/**
 * The first reason `value` could not be stored as a DynamoDB attribute, with its
 * path, or undefined when it can. Iterative and depth-first, and it stops at
 * `maxDepth`, so a hostile 5,000-level document costs nine steps, not the stack.
 */
export function storableJsonProblem(
  value: unknown,
  rules: JsonRules,
): { path: PropertyKey[]; message: string } | undefined {
  const stack: { value: unknown; path: PropertyKey[]; depth: number }[] = [
    { value, path: [], depth: 0 },
  ];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const { value: v, path, depth } = next;
    if (v === null || typeof v === 'boolean') continue;
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return { path, message: 'must be valid Unicode text' };
      continue;
    }
    if (typeof v === 'number') {
      const magnitude = Math.abs(v);
      if (!Number.isFinite(v) || magnitude > Number.MAX_SAFE_INTEGER) {
        return { path, message: 'must be a number within ±(2^53 - 1)' };
      }
      if (magnitude !== 0 && magnitude < SMALLEST_MAGNITUDE) {
        return { path, message: 'must be 0 or at least 1e-130 in magnitude' };
      }
      continue;
    }
    if (typeof v !== 'object') return { path, message: 'must be JSON' };
    if (depth >= rules.maxDepth) {
      return { path, message: `must nest at most ${rules.maxDepth} levels of objects and arrays` };
    }
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        stack.push({ value: item, path: [...path, i], depth: depth + 1 });
      });
      continue;
    }
    for (const [key, item] of Object.entries(v)) {
      if (key === '') return { path, message: 'must not have an empty key' };
      if (RESERVED_KEYS.has(key)) return { path, message: `must not have the key "${key}"` };
      if (key.length > rules.maxKeyChars || LONE_SURROGATE.test(key)) {
        return {
          path,
          message: `keys must be valid text of at most ${rules.maxKeyChars} characters`,
        };
      }
      stack.push({ value: item, path: [...path, key], depth: depth + 1 });
    }
  }
  // Only reached for a document within maxDepth, so stringifying it is safe.
  if (Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8') > rules.maxBytes) {
    return { path: [], message: `must be at most ${rules.maxBytes} bytes as JSON` };
  }
  return undefined;
}

/** Free-form JSON that DynamoDB will always accept (depth, numbers, keys, size). */
export const storableJson = (rules: JsonRules) =>
  z.unknown().check(
    z.superRefine((value, ctx) => {
      const problem = storableJsonProblem(value, rules);
      if (problem) ctx.addIssue({ code: 'custom', input: value, ...problem });
    }),
  );

export const mediaJson = storableJson({
  maxDepth: LIMITS.mediaDepth,
  maxBytes: LIMITS.mediaBytes,
  maxKeyChars: 256,
});

const pageLimit = z._default(
  z.coerce.number().check(z.int(), z.minimum(1), z.maximum(LIMITS.pageSizeMax)),
  LIMITS.pageSizeDefault,
);

export const createRoomBody = z.discriminatedUnion('type', [
  z.object({ type: z.literal('direct'), member_ids: z.array(userId).check(z.length(1)) }),
  z.object({
    type: z.literal('group'),
    name: z.string().check(z.trim(), z.minLength(1), z.maxLength(200), wellFormed),
    member_ids: z._default(z.array(userId).check(z.maxLength(LIMITS.membersPerRequest)), []),
  }),
]);
export type CreateRoomInput = z.infer<typeof createRoomBody>;

export const listRoomsQuery = z.object({
  archived: z.pipe(
    z._default(z.enum(['true', 'false']), 'false'),
    z.transform((v) => v === 'true'),
  ),
  limit: pageLimit,
  cursor: z.optional(z.string().check(z.maxLength(2048))),
});

export const roomParams = z.object({ room_id: roomId });
export const memberParams = z.object({ room_id: roomId, user_id: userId });
export const messageParams = z.object({ message_id: messageId });

export const addMembersBody = z.object({
  user_ids: z.array(userId).check(z.minLength(1), z.maxLength(LIMITS.membersPerRequest)),
});

export const listMessagesQuery = z.object({
  limit: pageLimit,
  before: z.optional(messageId),
});

/** An attachment id (a ULID the server made). */
export const attachmentId = id(1, 64).check(z.regex(/^[0-9A-Za-z]+$/, 'is not an attachment id'));

const sendFields = {
  content: z._default(z.string().check(z.maxLength(LIMITS.contentChars), wellFormed), ''),
  temp_id: z.optional(id(1, 128)),
  message_type: z._default(z.string().check(z.minLength(1), z.maxLength(32)), 'text'),
  reply_to_message_id: z.nullish(messageId),
  /** Members of the room the message mentions (CONTRACT §10). */
  mentions: z.optional(z.array(userId).check(z.maxLength(LIMITS.mentionsPerMessage))),
  file_url: z.nullish(z.url().check(z.maxLength(2048))),
  media: z.optional(mediaJson),
  is_encrypted: z._default(z.boolean(), false),
  encryption_key_id: z.nullish(id(1, 255)),
  encrypted_content: z.nullish(z.string().check(z.maxLength(LIMITS.bodyBytes))),
  attachment_ids: z.optional(
    z.array(attachmentId).check(z.minLength(1), z.maxLength(LIMITS.attachmentsPerMessage)),
  ),
};

type SendFields = z.infer<z.ZodMiniObject<typeof sendFields>>;

type Issue = { code: 'custom'; message: string; path?: PropertyKey[]; input: unknown };

const present = (value: unknown) => value !== undefined && value !== null;

/**
 * The server enforces what "encrypted" means instead of trusting the flag: an
 * encrypted message carries no plaintext (no content, media or file_url; those
 * belong inside the ciphertext), and ciphertext is only accepted on a message
 * flagged encrypted, so no rule keyed on the flag (push text, forwarding) can
 * be bypassed by clearing it.
 */
function checkSendRules(body: SendFields, ctx: { addIssue: (issue: Issue) => void }) {
  const refuse = (field: keyof SendFields, message: string) =>
    ctx.addIssue({ code: 'custom', input: body, path: [field], message });
  if (body.is_encrypted) {
    if (!body.encrypted_content)
      refuse('encrypted_content', 'is required when is_encrypted is true');
    if (!body.encryption_key_id)
      refuse('encryption_key_id', 'is required when is_encrypted is true');
    if (body.content !== '') refuse('content', 'must be empty for encrypted messages');
    if (present(body.media)) refuse('media', 'must be absent for encrypted messages (encrypt it)');
    if (present(body.file_url)) {
      refuse('file_url', 'must be absent for encrypted messages (encrypt it)');
    }
    return;
  }
  if (present(body.encrypted_content)) refuse('encrypted_content', 'needs is_encrypted: true');
  if (present(body.encryption_key_id)) refuse('encryption_key_id', 'needs is_encrypted: true');
  const hasFiles = (body.attachment_ids?.length ?? 0) > 0;
  if (body.content.trim() === '' && !body.file_url && !present(body.media) && !hasFiles) {
    refuse('content', 'a message needs content, file_url, media or attachment_ids');
  }
}

function checkDistinctFiles(body: SendFields, ctx: { addIssue: (issue: Issue) => void }) {
  for (const field of ['attachment_ids', 'mentions'] as const) {
    const ids = body[field] ?? [];
    if (new Set(ids).size !== ids.length) {
      ctx.addIssue({ code: 'custom', input: body, path: [field], message: 'must be distinct' });
    }
  }
}

function checkSendBody(body: SendFields, ctx: { addIssue: (issue: Issue) => void }) {
  checkSendRules(body, ctx);
  checkDistinctFiles(body, ctx);
}

/** The send-message body, shared by HTTP and the WebSocket action. */
export const sendMessageBody = z.object(sendFields).check(z.superRefine(checkSendBody));
export type SendMessageInput = z.infer<typeof sendMessageBody>;

export const wsSendMessage = z
  .object({ room_id: roomId, ...sendFields })
  .check(z.superRefine(checkSendBody));

export const markSeenFrame = z.object({
  room_id: roomId,
  message_ids: z.array(messageId).check(z.minLength(1), z.maxLength(LIMITS.seenIdsMax)),
});

export const archiveBody = z.object({ is_archived: z.boolean() });
export const roomArchiveFrame = z.object({ room_id: roomId, is_archived: z.boolean() });
export const typingFrame = z.object({ room_id: roomId, is_typing: z.boolean() });

export const registerDeviceBody = z.object({
  platform: z.enum(['apns', 'fcm']),
  token: z.string().check(z.minLength(8), z.maxLength(4096)),
});
export const deviceParams = z.object({
  device_id: z.string().check(z.regex(/^[0-9a-f]{32}$/, 'is not a device id')),
});

const booleanString = z.pipe(
  z._default(z.enum(['true', 'false']), 'false'),
  z.transform((v) => v === 'true'),
);

export const clearMessagesQuery = z.object({ for_everyone: booleanString });
/** DELETE /api/chat/me?erase_messages= */
export const eraseAccountQuery = z.object({ erase_messages: booleanString });

export const muteBody = z.object({
  is_muted: z.boolean(),
  muted_until: z.nullish(z.iso.datetime({ offset: true })),
});

export const unreadCountQuery = z.object({ room_id: z.optional(roomId) });

export const readStatusBody = z.object({
  is_read: z.boolean(),
  last_read_message_id: z.nullish(messageId),
});

export const batchReadBody = z.object({
  room_ids: z.array(roomId).check(z.minLength(1), z.maxLength(LIMITS.batchReadRooms)),
});

export const forwardBody = z.object({
  target_room_ids: z.array(roomId).check(z.minLength(1), z.maxLength(LIMITS.forwardTargets)),
});

const keyPart = id(1, 255).check(z.regex(/^[^#\s]+$/, 'must not contain # or spaces'));

/**
 * The key must be one the server accepts, checked here rather than in the
 * domain so a bad key is refused before it is charged to the upload limit.
 */
const publicKeyPem = z.string().check(
  z.minLength(1),
  z.maxLength(LIMITS.publicKeyBytes),
  z.superRefine((pem, ctx) => {
    try {
      acceptPublicKey(pem);
    } catch (error) {
      const message = error instanceof Error ? error.message : 'is not an accepted public key';
      ctx.addIssue({ code: 'custom', input: pem, message: message.replace(/^public_key /, '') });
    }
  }),
);

export const uploadKeyBody = z.object({
  public_key: publicKeyPem,
  device_id: keyPart,
  key_id: keyPart,
  expires_at: z.nullish(z.iso.datetime({ offset: true })),
});

/** A user named in the path (a key's owner, a user to block). */
export const userParams = z.object({ user_id: userId });
export const keyOwnerParams = userParams;

export const verifyKeyBody = z.object({
  user_id: userId,
  key_id: keyPart,
  fingerprint: z.string().check(z.minLength(1), z.maxLength(200)),
});

const syncCursor = z.string().check(z.minLength(1), z.maxLength(2048));

/** GET /api/chat/sync (the HTTP API, docs/openapi.json; docs/architecture.md "Sync"). */
export const syncQuery = z.object({
  since: z.optional(syncCursor),
  limit: z._default(
    z.coerce.number().check(z.int(), z.minimum(1), z.maximum(LIMITS.syncPageMax)),
    LIMITS.syncPageDefault,
  ),
});

/** The `sync` action: without `since`, deliver what is pending; with it, a sync page. */
export const syncFrame = z.object({
  since: z.optional(syncCursor),
  limit: z._default(
    z.number().check(z.int(), z.minimum(1), z.maximum(LIMITS.syncPageMax)),
    LIMITS.syncPageDefault,
  ),
});

/**
 * PUT /api/chat/me/settings. Strict: an unknown field is 400 naming it, so a
 * client cannot believe it set something the server ignored. Only
 * `who_can_add_me` for now; the contract's `read_receipts` comes with its own
 * issue, and then both become optional (a PUT sets what it names).
 */
export const updateSettingsBody = z.strictObject({
  who_can_add_me: z.enum(WHO_CAN_ADD_ME),
});
export type UpdateSettingsInput = z.infer<typeof updateSettingsBody>;

/** No control characters (C0 and DEL): a file name ends up in a Content-Disposition header. */
const noControl = z.refine<string>(
  (s) => ![...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f),
  'must not contain control characters',
);

/** POST /rooms/:room_id/attachments (CONTRACT §8). Over a kind's size is 413, in the domain. */
export const createAttachmentBody = z.object({
  content_type: z.enum(Object.keys(ATTACHMENT_TYPES) as [string, ...string[]]),
  size_bytes: z.number().check(z.int(), z.minimum(1), z.maximum(Number.MAX_SAFE_INTEGER)),
  file_name: z.nullish(z.string().check(z.minLength(1), z.maxLength(255), wellFormed, noControl)),
  is_encrypted: z._default(z.boolean(), false),
});
export type CreateAttachmentInput = z.infer<typeof createAttachmentBody>;

export const attachmentParams = z.object({ attachment_id: attachmentId });

/** POST /api/chat/reports (CONTRACT §9): a message, a user, or both (the message's sender). */
export const createReportBody = z
  .object({
    message_id: z.optional(messageId),
    user_id: z.optional(userId),
    reason: z.enum(REPORT_REASONS),
    note: z.nullish(z.string().check(z.maxLength(1000), wellFormed)),
  })
  .check(
    z.refine((b) => b.message_id !== undefined || b.user_id !== undefined, {
      message: 'name message_id, user_id or both',
      path: ['message_id'],
    }),
  );
export type CreateReportInput = z.infer<typeof createReportBody>;

/** A moderator's list: a page of `limit` and the cursor of the last page's end. */
const moderationPage = {
  limit: pageLimit,
  cursor: z.optional(z.string().check(z.maxLength(2048))),
};

export const listReportsQuery = z.object({
  status: z._default(z.enum(['open', 'closed']), 'open'),
  ...moderationPage,
});
export const listAuditQuery = z.object(moderationPage);

export const reportParams = z.object({ report_id: id(1, 64) });

export const resolveReportBody = z.object({
  action: z.enum(RESOLVE_ACTIONS),
  note: z.nullish(z.string().check(z.maxLength(1000), wellFormed)),
});
export type ResolveReportInput = z.infer<typeof resolveReportBody>;

export const suspensionBody = z.object({
  /** Absent or null: until lifted. */
  until: z.nullish(
    z.iso
      .datetime({ offset: true })
      .check(z.refine((t) => Date.parse(t) > Date.now(), 'must be in the future')),
  ),
  reason: z.string().check(z.trim(), z.minLength(1), z.maxLength(1000), wellFormed),
});
export type SuspensionInput = z.infer<typeof suspensionBody>;
