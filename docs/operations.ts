/**
 * What the OpenAPI document says about each HTTP route beyond its schemas: a
 * summary, the success statuses the handler answers with (first = usual), and
 * the error statuses its domain code can raise. 400, 401, 429 and 500 apply to
 * every route (validation, the gateway's JWT check, the per-user rate limits of
 * functions/platform/rate-limit-rules.ts, the catch-all) and 413 to every route
 * with a body; they are added by the generator.
 * Keyed by `METHOD path` as in functions/routes.ts; a test fails when a route has
 * no entry here.
 */
export interface OperationDoc {
  summary: string;
  description?: string;
  tag:
    | 'Rooms'
    | 'Messages'
    | 'Chat state'
    | 'Unread'
    | 'Encryption'
    | 'Devices'
    | 'Sync'
    | 'Settings'
    | 'Attachments'
    | 'Safety'
    | 'Moderation';
  success?: readonly number[];
  errors: readonly number[];
}

export const operations: Record<string, OperationDoc> = {
  'POST /api/chat/rooms': {
    summary: 'Create a direct or group room',
    description:
      'One direct room per pair: asking again answers 200 with the same room; the first time is 201. A group makes the creator a member and an admin. A group may name only users whose `who_can_add_me` is `everyone` (else 403 naming them), and each member put in draws on their own `addedToGroup` limit (429 naming them); either way nothing is created.',
    tag: 'Rooms',
    success: [201, 200],
    errors: [403, 409],
  },
  'GET /api/chat/rooms': {
    summary: "List the caller's rooms, newest activity first",
    description:
      '`archived=true` lists only archived rooms. Deleted rooms are never listed. Page with `limit` and `cursor` (`next_cursor`).',
    tag: 'Rooms',
    errors: [],
  },
  'GET /api/chat/rooms/{room_id}': { summary: 'Get one room', tag: 'Rooms', errors: [403, 404] },
  'POST /api/chat/rooms/{room_id}/members': {
    summary: 'Add members to a group (admins only)',
    description:
      'Only users whose `who_can_add_me` is `everyone` can be added (else 403 naming them), and each newcomer draws on their own `addedToGroup` limit (429 naming them); either way nobody is added.',
    tag: 'Rooms',
    errors: [403, 404, 409],
  },
  'DELETE /api/chat/rooms/{room_id}/members/{user_id}': {
    summary: 'Remove a member from a group (admins only)',
    tag: 'Rooms',
    errors: [403, 404, 409],
  },
  'GET /api/chat/rooms/{room_id}/messages': {
    summary: 'List messages, newest first',
    description:
      "Hides deleted messages and those before the caller's clear marker. Page with `limit` and `before` (`next_cursor`).",
    tag: 'Messages',
    errors: [403, 404],
  },
  'POST /api/chat/rooms/{room_id}/messages': {
    summary: 'Send a message',
    description:
      'The same body and effects as the WebSocket `send-message`. 201 with the message; a `temp_id` already used by this user answers 200 with the first message.',
    tag: 'Messages',
    success: [201, 200],
    errors: [403, 404, 409],
  },
  'DELETE /api/chat/messages/{message_id}': {
    summary: 'Delete your own message for everyone',
    tag: 'Messages',
    errors: [403, 404],
  },
  'POST /api/chat/messages/{message_id}/forward': {
    summary: 'Forward a message to 1–10 rooms',
    description: 'Encrypted messages cannot be forwarded by the server (422).',
    tag: 'Messages',
    errors: [403, 404, 409, 422],
  },
  'DELETE /api/chat/rooms/{room_id}': {
    summary: 'Delete a chat (hide a direct room, leave a group)',
    tag: 'Chat state',
    errors: [403, 404, 409],
  },
  'DELETE /api/chat/rooms/{room_id}/messages': {
    summary: 'Clear a chat for yourself, or for everyone (admins and the creator)',
    tag: 'Chat state',
    errors: [403, 404],
  },
  'PUT /api/chat/rooms/{room_id}/archive': {
    summary: 'Archive or unarchive a room for yourself',
    tag: 'Chat state',
    errors: [403, 404],
  },
  'PUT /api/chat/rooms/{room_id}/mute': {
    summary: 'Mute or unmute a room (no push while muted)',
    tag: 'Chat state',
    errors: [403, 404],
  },
  'GET /api/chat/unread-count': {
    summary: 'Unread counts: every room with the total, or one room',
    tag: 'Unread',
    errors: [403, 404],
  },
  'PUT /api/chat/rooms/{room_id}/read-status': {
    summary: 'Mark a room read (up to a message) or unread',
    tag: 'Unread',
    errors: [403, 404],
  },
  'PUT /api/chat/read-status': {
    summary: 'Mark up to 100 rooms read',
    tag: 'Unread',
    errors: [403, 404],
  },
  'POST /api/chat/encryption/keys': {
    summary: 'Upload a public key for one of your devices',
    tag: 'Encryption',
    errors: [409],
  },
  'GET /api/chat/encryption/keys/{user_id}': {
    summary: "List a user's active public keys",
    description: 'Only the owner and users who share a room with them may read them (else 404).',
    tag: 'Encryption',
    errors: [404],
  },
  'POST /api/chat/encryption/verify': {
    summary: "Record that you verified a key's fingerprint",
    tag: 'Encryption',
    errors: [404],
  },
  'POST /api/chat/devices': {
    summary: 'Register a push target',
    tag: 'Devices',
    success: [201],
    errors: [409],
  },
  'DELETE /api/chat/devices/{device_id}': {
    summary: 'Remove a push target',
    tag: 'Devices',
    errors: [404],
  },
  'GET /api/chat/sync': {
    summary: 'Catch up one device from its cursor',
    description:
      'The events this user would have received over WebSocket since `since`, oldest first. Without `since`: no events, and `next_since` marks now. A page holds at most `limit` events, and ends early once its events reach 120 KiB serialized (so that the same page as a `sync-result` stays within API Gateway’s 128 KB WebSocket message); either way `has_more` is true: call again with `next_since`, which resumes right after the last event given. A cursor older than the sync window answers 410 CURSOR_EXPIRED.',
    tag: 'Sync',
    errors: [410],
  },
  'POST /api/chat/rooms/{room_id}/attachments': {
    summary: 'Ask for an upload slot',
    description:
      'Members only. Answers an HTML-form upload: POST `multipart/form-data` to `upload.url` with every field of `upload.fields`, then the file as the field `file`, within 15 minutes (`expires_at`). Storage itself refuses bytes over `size_bytes` (400 EntityTooLarge) or another content type (403). Then name `attachment_id` in a send’s `attachment_ids`. Types: images (jpeg, png, webp, gif, heic), audio (mpeg, mp4, aac, ogg), video (mp4, quicktime), pdf, zip, text/plain and application/octet-stream; an encrypted file (`is_encrypted: true`) must be application/octet-stream. Over a kind’s size (images and audio 16 MB, video 64 MB, other files 100 MB) answers 413. Draws on the `uploads` rate limit.',
    tag: 'Attachments',
    success: [201],
    errors: [403, 404],
  },
  'GET /api/chat/attachments/{attachment_id}': {
    summary: 'Get a download URL',
    description:
      'A GET URL valid until `expires_at` (at most 15 minutes), with `Content-Disposition` from `file_name`. 404 unless you can see a message that carries the file (a member of its room, the message after your clear marker, not deleted), or uploaded it and have not sent it yet. A file no message carries any more answers 404 at once; its bytes go within a day.',
    tag: 'Attachments',
    errors: [404],
  },
  'PUT /api/chat/blocks/{user_id}': {
    summary: 'Block a user',
    description:
      'Idempotent (a standing block keeps its `blocked_at`). While you block someone: neither of you can send into your direct room (403 BLOCKED, both ways), they cannot start a direct room with you nor add you to a group (403 BLOCKED), and neither sees the other’s presence or typing. Groups you share are otherwise unaffected. Your other devices get `user-blocked`. Blocking yourself is 400.',
    tag: 'Safety',
    errors: [409],
  },
  'DELETE /api/chat/blocks/{user_id}': {
    summary: 'Unblock a user',
    description: 'Idempotent. Your other devices get `user-unblocked`.',
    tag: 'Safety',
    errors: [409],
  },
  'GET /api/chat/moderation/reports': {
    summary: 'Moderators: list reports',
    description:
      'Moderators only (the token’s `groups` or `cognito:groups` claim holds the stage’s moderator group, `moderators` unless `-c moderatorGroup` says otherwise; else 403). `status` is `open` (default) or `closed`; oldest first, paged by `cursor`. Each report carries its `evidence`, the message as it was when reported (null for a report of a user alone), and once closed its `resolution`.',
    tag: 'Moderation',
    errors: [],
  },
  'POST /api/chat/moderation/reports/{report_id}/resolve': {
    summary: 'Moderators: resolve a report',
    description:
      '`dismiss` closes it; `remove_message` deletes the reported message for everyone (members who could see it get `message-deleted` with `removed_by: "moderator"`); `suspend_user` suspends the reported user until lifted. Exactly one resolution acts on a report: a report already closed answers 409. The action is logged in the audit log.',
    tag: 'Moderation',
    errors: [404, 409],
  },
  'PUT /api/chat/moderation/users/{user_id}/suspension': {
    summary: 'Moderators: suspend a user',
    description:
      'Until lifted, or until `until` (it then ends by itself). The user gets 403 SUSPENDED on every route and every frame (each function remembers a suspension for at most a minute, so it reaches every one within a minute), their open sockets are closed at once, and a new connect is refused. Logged in the audit log.',
    tag: 'Moderation',
    errors: [],
  },
  'DELETE /api/chat/moderation/users/{user_id}/suspension': {
    summary: 'Moderators: lift a suspension',
    description:
      'Idempotent. Within a minute every function serves the user again. Logged in the audit log.',
    tag: 'Moderation',
    errors: [],
  },
  'GET /api/chat/moderation/audit': {
    summary: 'Moderators: the audit log',
    description:
      'Every moderator action (resolutions, suspensions, lifts): who, what, when, why; newest first, paged by `cursor`.',
    tag: 'Moderation',
    errors: [],
  },
  'POST /api/chat/reports': {
    summary: 'Report a message or a user',
    description:
      'Name `message_id`, `user_id` or both (then `user_id` must be the message\u2019s sender). You must be able to see the message (else 404, as if it did not exist). The report keeps a copy of the message as it was (content or ciphertext, attachments, sender, time), even if it is deleted later, and the operator is notified. Draws on the `reports` rate limit.',
    tag: 'Safety',
    success: [201],
    errors: [404],
  },
  'GET /api/chat/blocks': {
    summary: 'The users you block',
    description: 'Oldest block first.',
    tag: 'Safety',
    errors: [],
  },
  'GET /api/chat/me/settings': {
    summary: 'Your settings',
    description: 'Every setting, with its default (`who_can_add_me`: `everyone`) when never set.',
    tag: 'Settings',
    errors: [],
  },
  'PUT /api/chat/me/settings': {
    summary: 'Change your settings',
    description:
      '`who_can_add_me`: `nobody` means no one else can put you into a group (creating a group with you or adding you answers 403); direct rooms are unaffected. An unknown field is 400. Answers every setting.',
    tag: 'Settings',
    errors: [],
  },
  'DELETE /api/chat/me': {
    summary: 'Erase your account',
    description:
      'Answers 202 at once; the erase runs in the background and finishes within a minute. Every socket of yours is closed; your keys, devices, blocks (both ways), settings, pending copies and sessions are deleted; you leave every group (an only admin hands over to the longest-standing member; members get `room-member-removed`); each direct room stays for the other member with its history, and their sends into it answer 403 `FORBIDDEN`. With `erase_messages=true` your messages in others\u2019 rooms lose `content`, `encrypted_content`, `attachments` and `media` but keep their ids, order and times, so nobody\u2019s unread count changes. A later token with the same `sub` is a new, empty account. A suspended user may call it too (and stays suspended). Draws on the `write` rate limit.',
    tag: 'Safety',
    success: [202],
    errors: [],
  },
};

export const tagDescriptions: Record<OperationDoc['tag'], string> = {
  Rooms:
    'Direct rooms (two users, one per pair) and group rooms (up to 1,000 members by default, with admins), and their members.',
  Messages: 'Sending, listing, deleting and forwarding messages.',
  'Chat state': 'Per-user state of a room: delete, clear, archive, mute.',
  Unread: 'Exact unread counts and read markers.',
  Encryption:
    'Public keys for end-to-end encryption: one active PEM (SPKI) public key per device, its SHA-256 fingerprint, and verification. A private key is refused and never stored.',
  Devices: 'Push notification targets.',
  Settings: "The caller's own settings: who may add them to groups.",
  Safety:
    'Blocking and reporting users (CONTRACT §9). A block is per user pair and tells the blocked user nothing beyond the 403 BLOCKED answers.',
  Attachments:
    'Photos, voice notes, videos and files. The bytes never pass through the API: upload straight to storage with the slot, send a message naming the file, download with a short-lived signed URL.',
  Moderation:
    'For the stage’s moderators only (the token’s `groups` or `cognito:groups` claim holds the moderator group; anyone else gets 403): the reports queue, resolutions, suspensions and the audit log of every moderator action.',
  Sync: 'Catch-up for a device that was away: the events it missed since its cursor, oldest first, in the shapes of the WebSocket events (docs/asyncapi.json).',
};

/** The WebSocket protocol: one line on each client action. */
export const actionDocs: Record<string, string> = {
  'send-message':
    'Store and deliver a message. The sender gets `message-confirmed`; every connection of every other member gets `new-chat-message`. A `temp_id` already used is confirmed again with the same `message_id`.',
  'mark-messages-seen':
    "The senders get `messages-seen`; the caller's connections get `unread-count-update`.",
  ping: 'Heartbeat, every 25 seconds: answered with `pong`. The server closes a connection that sent nothing for 60 seconds (two missed pings plus slack), and API Gateway closes every connection after 2 hours.',
  'room-archive': "Like PUT …/archive; all the user's connections get `room-archived`.",
  sync: 'Without `since`: deliver anything pending now. With `since`: answered by `sync-result`, as GET /api/chat/sync (a page ends early, with `has_more`, to keep the message within 128 KB).',
  typing:
    "The other members' connections get `user-typing`. Nothing is stored or pushed; only members may send it; extra frames within a second or two may be dropped.",
};

/** The WebSocket protocol: one line on each server event. */
export const eventDocs: Record<string, string> = {
  'new-chat-message':
    'A message in one of your rooms (live, or replayed after a reconnect: de-duplicate by `message.id`).',
  'message-confirmed': 'Your `send-message` was stored.',
  'messages-seen': 'Someone saw messages you sent.',
  'unread-count-update': "A room's unread count changed for you.",
  pong: 'The answer to `ping`.',
  'room-archived': 'You archived or unarchived a room (on any of your devices).',
  'room-deleted': 'A room was deleted for you, or you left it.',
  'room-messages-cleared': 'A room was cleared for everyone.',
  'message-deleted': 'A message was deleted by its sender.',
  'chat-user-status-update':
    'Someone who shares a room with you came online, or went offline after the grace period.',
  'encryption-key-changed': 'Someone who shares a room with you uploaded a new key.',
  'room-member-added': 'Members joined a room (sent to every member, the new ones included).',
  'room-member-removed':
    'A member left or was removed (sent to the remaining members and to the one removed).',
  'user-typing': 'Someone in a room started or stopped typing.',
  'sync-result':
    'A page of catch-up events, the answer to `sync` with `since`: at most `limit` events and at most 128 KB in all (API Gateway’s largest WebSocket message); with `has_more`, send `sync` again with `next_since`.',
  error: 'A frame was refused; the connection stays open.',
};
