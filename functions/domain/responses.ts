/**
 * Output schemas: the success bodies of every HTTP route and the data of every
 * server event, as projections of functions/domain/views.ts and
 * events.ts. They are not used to validate at run time. They do three jobs:
 * - each HTTP handler names its `response` schema (response-ref.ts), and
 *   httpRoute makes the handler's `data` type-check against it;
 * - docs/generate.ts renders them into the OpenAPI and AsyncAPI documents;
 * - client/ imports their types (type-only), so a change here breaks its build.
 * test/unit/wire-schemas.test.ts checks the views and event builders produce
 * exactly these fields.
 */
import * as z from 'zod/mini';
import { AUDIT_ACTIONS, REPORT_REASONS, RESOLVE_ACTIONS, WHO_CAN_ADD_ME } from './model.ts';

const iso = z.string().check(z.describe('ISO 8601 UTC timestamp with milliseconds'));
const nullableIso = z.nullable(iso);
const count = z.number().check(z.int(), z.nonnegative());

export const forwardMetadata = z.object({
  message_id: z.string(),
  original_sender: z.string(),
  original_room: z.string(),
});

/** The wire Attachment (CONTRACT §8; views.ts messageView). */
export const attachment = z.object({
  id: z.string(),
  content_type: z.string(),
  size_bytes: count,
  file_name: z.nullable(z.string()),
  is_encrypted: z.boolean(),
  created_at: iso,
});

/** POST /reports (CONTRACT §9). */
export const createdReport = z.object({ report_id: z.string() });

/** How a moderator closed a report. */
const resolution = z.object({
  action: z.enum(RESOLVE_ACTIONS),
  moderator_id: z.string(),
  note: z.nullable(z.string()),
  resolved_at: iso,
});

/** A report as moderators list it (CONTRACT §9; views.ts reportView). */
export const report = z.object({
  report_id: z.string(),
  status: z.enum(['open', 'closed']),
  reason: z.enum(REPORT_REASONS),
  note: z.nullable(z.string()),
  reporter_id: z.string(),
  user_id: z.nullable(z.string()),
  created_at: iso,
  evidence: z.nullable(
    z.object({
      message_id: z.string(),
      room_id: z.string(),
      sender_id: z.string(),
      content: z.string(),
      encrypted_content: z.nullable(z.string()),
      attachments: z.array(attachment),
      created_at: iso,
    }),
  ),
  resolution: z.nullable(resolution),
});
/** GET /moderation/reports: oldest first. */
export const reportList = z.object({
  reports: z.array(report),
  next_cursor: z.nullable(z.string()),
});
/** POST /moderation/reports/:report_id/resolve. */
export const resolvedReport = z.object({
  report_id: z.string(),
  status: z.literal('closed'),
  resolution,
});
/** PUT /moderation/users/:user_id/suspension. */
export const suspension = z.object({
  user_id: z.string(),
  reason: z.string(),
  until: nullableIso,
  suspended_by: z.string(),
  suspended_at: iso,
});
/** DELETE /moderation/users/:user_id/suspension. */
export const suspensionLifted = z.object({
  user_id: z.string(),
  is_suspended: z.literal(false),
});
/** GET /moderation/audit: newest first. */
export const auditList = z.object({
  entries: z.array(
    z.object({
      audit_id: z.string(),
      moderator_id: z.string(),
      action: z.enum(AUDIT_ACTIONS),
      user_id: z.nullable(z.string()),
      report_id: z.nullable(z.string()),
      message_id: z.nullable(z.string()),
      note: z.nullable(z.string()),
      at: iso,
    }),
  ),
  next_cursor: z.nullable(z.string()),
});

/** PUT /blocks/:user_id (CONTRACT §9). */
export const blockEntry = z.object({ user_id: z.string(), blocked_at: iso });
/** DELETE /blocks/:user_id. */
export const unblocked = z.object({ user_id: z.string(), is_blocked: z.literal(false) });
/** GET /blocks: oldest block first. */
export const blockList = z.object({ blocked: z.array(blockEntry) });

/** POST /rooms/:room_id/attachments: the upload slot (an HTML-form POST to `url`). */
export const uploadSlot = z.object({
  attachment_id: z.string(),
  upload: z.object({
    url: z.string().check(z.describe('POST multipart/form-data here: every field, then `file`')),
    fields: z.record(z.string(), z.string()),
  }),
  expires_at: iso,
});

/** GET /attachments/:attachment_id: a signed download URL. */
export const attachmentDownload = z.object({
  url: z.string().check(z.describe('GET the file here before expires_at (at most 15 minutes)')),
  expires_at: iso,
  content_type: z.string(),
  size_bytes: count,
  file_name: z.nullable(z.string()),
});

/** The wire Message (views.ts messageView). */
export const message = z.object({
  id: z.string(),
  room_id: z.string(),
  sender_id: z.string(),
  sender_name: z.string(),
  content: z.string(),
  message_type: z.string(),
  file_url: z.nullable(z.string()),
  media: z.unknown(),
  reply_to_message_id: z.nullable(z.string()),
  /** The quoted original (§10): its first 100 characters, emptied once it is deleted for everyone. */
  reply_to: z.nullable(
    z.object({
      message_id: z.string(),
      sender_id: z.string(),
      preview: z.string(),
      is_deleted: z.boolean(),
    }),
  ),
  /** Members the message mentions (§10). */
  mentions: z.array(z.string()),
  forwarded_from: z.nullable(z.string()),
  metadata: z.nullable(
    z.object({
      forwarded_from: z.optional(forwardMetadata),
      forward_depth: z.optional(z.number()),
    }),
  ),
  forwarded_count: count,
  is_encrypted: z.boolean(),
  encryption_key_id: z.nullable(z.string()),
  encrypted_content: z.nullable(z.string()),
  is_deleted: z.boolean(),
  attachments: z.array(attachment),
  created_at: iso,
});

/** A room's last message, as room lists show it (views.ts messageSummary). */
export const messageSummary = z.object({
  id: z.string(),
  sender_id: z.string(),
  content: z.string(),
  message_type: z.string(),
  is_encrypted: z.boolean(),
  created_at: iso,
});

/** The wire Room, as the caller sees it (views.ts roomView). */
export const room = z.object({
  id: z.string(),
  type: z.enum(['direct', 'group']),
  name: z.nullable(z.string()),
  members: z.array(z.string()),
  admins: z.array(z.string()),
  created_by: z.string(),
  created_at: iso,
  updated_at: iso,
  last_message: z.nullable(messageSummary),
  is_archived: z.boolean(),
  archived_at: nullableIso,
  is_deleted: z.boolean(),
  is_muted: z.boolean(),
  muted_until: nullableIso,
  unread_count: count,
  last_read_message_id: z.nullable(z.string()),
});

export const roomPage = z.object({ rooms: z.array(room), next_cursor: z.nullable(z.string()) });
export const messagePage = z.object({
  messages: z.array(message),
  next_cursor: z.nullable(z.string()),
});

export const sentMessage = z.extend(message, {
  delivered_to_count: count,
  queued_for_count: count,
});

export const deletedMessage = z.object({
  message_id: z.string(),
  room_id: z.string(),
  deleted_at: iso,
});

export const forwardResult = z.object({
  original_message_id: z.string(),
  forwarded_to: z.array(z.string()),
  forwarded_messages: z.array(
    z.object({
      id: z.string(),
      room_id: z.string(),
      content: z.string(),
      forwarded_from: z.nullable(z.string()),
      metadata: message.shape.metadata,
      created_at: iso,
    }),
  ),
});

export const deletedRoom = z.object({ room_id: z.string(), deleted_at: iso });
/** DELETE /api/chat/me: the erase is queued (202); it finishes within a minute. */
export const eraseAccepted = z.object({
  user_id: z.string(),
  erase_messages: z.boolean(),
  requested_at: iso,
});
export const clearedRoom = z.object({
  room_id: z.string(),
  cleared_at: iso,
  for_everyone: z.boolean(),
});
export const archiveState = z.object({
  room_id: z.string(),
  is_archived: z.boolean(),
  archived_at: nullableIso,
});
export const muteState = z.object({
  room_id: z.string(),
  is_muted: z.boolean(),
  muted_until: nullableIso,
});

export const roomUnread = z.object({
  room_id: z.string(),
  unread_count: count,
  last_read_message_id: z.nullable(z.string()),
});
export const allUnread = z.object({
  total_unread: count,
  rooms: z.array(z.extend(roomUnread, { last_message_timestamp: nullableIso })),
});
/** `GET /unread-count`: every room, or one with `?room_id=`. */
export const unreadCounts = z.union([allUnread, roomUnread]);

export const readStatus = z.extend(roomUnread, { read_at: iso });
export const batchReadStatus = z.object({
  rooms_updated: count,
  rooms: z.array(z.object({ room_id: z.string(), unread_count: count })),
  read_at: iso,
});

export const uploadedKey = z.object({
  key_id: z.string(),
  device_id: z.string(),
  fingerprint: z.string(),
  uploaded_at: iso,
  expires_at: nullableIso,
});
export const publicKeys = z.object({
  user_id: z.string(),
  keys: z.array(
    z.object({
      key_id: z.string(),
      device_id: z.string(),
      public_key: z.string(),
      fingerprint: z.string(),
      algorithm: z.string(),
      created_at: iso,
      expires_at: nullableIso,
      /** True for each device's current, unexpired key; older keys stay listed, false. */
      is_active: z.boolean(),
      is_verified: z.boolean(),
    }),
  ),
});
export const verifiedKey = z.object({
  user_id: z.string(),
  key_id: z.string(),
  device_id: z.string(),
  fingerprint: z.string(),
  verified_at: iso,
});

export const device = z.object({
  device_id: z.string(),
  platform: z.enum(['apns', 'fcm']),
  created_at: iso,
});
export const removedDevice = z.object({ device_id: z.string() });

/**
 * The caller's settings (GET and PUT /api/chat/me/settings): every setting,
 * its default when never set. The contract's `read_receipts` joins it later.
 */
export const userSettings = z.object({ who_can_add_me: z.enum(WHO_CAN_ADD_ME) });

// ---- WebSocket: server events of the protocol ----

export const serverEventData = {
  'new-chat-message': z.object({ message }),
  'message-confirmed': z.object({
    temp_id: z.nullable(z.string()),
    message_id: z.string(),
    delivered_to_count: count,
    queued_for_count: count,
    timestamp: iso,
  }),
  'messages-seen': z.object({
    room_id: z.string(),
    message_ids: z.array(z.string()),
    seen_by: z.object({ user_id: z.string(), user_name: z.string(), seen_at: iso }),
  }),
  'unread-count-update': z.object({ room_id: z.string(), unread_count: count }),
  pong: z.object({ server_time: iso }),
  'room-archived': archiveState,
  'room-deleted': z.object({ room_id: z.string(), deleted_by: z.string(), deleted_at: iso }),
  'room-messages-cleared': z.object({
    room_id: z.string(),
    cleared_by: z.string(),
    cleared_at: iso,
  }),
  'message-deleted': z.object({
    room_id: z.string(),
    message_id: z.string(),
    /** Present when a moderator removed it (CONTRACT §9). */
    removed_by: z.optional(z.literal('moderator')),
  }),
  'chat-user-status-update': z.object({
    user_id: z.string(),
    status: z.enum(['online', 'offline']),
    last_seen: iso,
  }),
  'encryption-key-changed': z.object({
    user_id: z.string(),
    device_id: z.string(),
    key_id: z.string(),
    fingerprint: z.string(),
  }),
  'room-member-added': z.object({
    room_id: z.string(),
    user_ids: z.array(z.string()),
    added_by: z.string(),
  }),
  'room-member-removed': z.object({
    room_id: z.string(),
    user_id: z.string(),
    removed_by: z.string(),
  }),
  'user-blocked': z.object({ user_id: z.string(), blocked_at: iso }),
  'user-unblocked': z.object({ user_id: z.string() }),
  'user-typing': z.object({
    room_id: z.string(),
    user_id: z.string(),
    user_name: z.string(),
    is_typing: z.boolean(),
  }),
  error: z.object({
    code: z.string(),
    message: z.string(),
    action: z.string(),
    temp_id: z.optional(z.string()),
  }),
} as const;

function eventFrame<N extends keyof typeof serverEventData>(name: N) {
  return z.object({ event: z.literal(name), data: serverEventData[name] });
}

/** Events a sync page may carry: what a device would have received live (docs/architecture.md "Sync"). */
const syncEvent = z.discriminatedUnion('event', [
  eventFrame('new-chat-message'),
  eventFrame('message-deleted'),
  eventFrame('room-messages-cleared'),
  eventFrame('room-archived'),
  eventFrame('room-deleted'),
  eventFrame('room-member-added'),
  eventFrame('room-member-removed'),
  eventFrame('encryption-key-changed'),
  eventFrame('user-blocked'),
  eventFrame('user-unblocked'),
]);

/** `GET /api/chat/sync` and the `sync-result` event. */
export const syncPage = z.object({
  events: z.array(syncEvent),
  next_since: z.string(),
  has_more: z.boolean(),
});

export const allServerEventData = { ...serverEventData, 'sync-result': syncPage } as const;
export type ServerEventName = keyof typeof allServerEventData;

// ---- WebSocket: client actions the contract has that no route serves yet ----

/**
 * Frames of the protocol whose handlers have not landed. The documents use the
 * handler's own schema once `functions/routes.ts` has the action; until then,
 * these. The client sends exactly these shapes.
 */
export const contractActions = {
  sync: z.object({ since: z.optional(z.string().check(z.minLength(1), z.maxLength(2048))) }),
} as const;
