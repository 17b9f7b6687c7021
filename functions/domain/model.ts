/**
 * The records the domain works with, and their factories. Field names are the
 * wire's snake_case so that views are plain projections; store codecs map them
 * to items and back. This module is the shared vocabulary: it imports nothing,
 * and it is the one part of the domain the store may import (as `#model`).
 */

export type RoomType = 'direct' | 'group';

export interface MessageSummary {
  id: string;
  sender_id: string;
  content: string;
  message_type: string;
  is_encrypted: boolean;
  created_at: string;
}

/** The room's latest message as its head stores it: the id follows from the head's seq. */
export type HeadSummary = Omit<MessageSummary, 'id'> & { is_tombstone?: boolean };

/**
 * The room's small, hot record, apart from its member list so a send never
 * rewrites (or pays for) the members: the sequence every send takes with one
 * atomic increment, the latest message, and the deleted seqs unread counts skip.
 */
export interface RoomHead {
  room_id: string;
  /** The highest sequence number handed out (0: none). A failed send leaves a tombstone at its number. */
  seq: number;
  /** When the last sequence number was taken (null: never); orders room lists. */
  last_activity: string | null;
  last_message: MessageSummary | null;
  /** Seqs of deleted messages and tombstones, the newest LIMITS.deletedSeqsKept of them. */
  deleted_seqs: number[];
  /** When the room's event log last grew (sync reads the logs of rooms that changed). */
  last_event_at: string | null;
  /**
   * Direct rooms: each member's newest own number, taken in the same write as
   * the number (store/room-head.ts takeSequence). A send is also a read up to
   * it, so this is the sender's read position without a write to their member
   * item (domain/unread.ts ownReadSeq). Empty for groups: the head stays small.
   */
  sent_seqs: Record<string, number>;
}

export const emptyHead = (roomId: string): RoomHead => ({
  room_id: roomId,
  seq: 0,
  last_activity: null,
  last_message: null,
  deleted_seqs: [],
  last_event_at: null,
  sent_seqs: {},
});

export interface RoomRecord {
  id: string;
  type: RoomType;
  name: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  /** user id → joined_at (ISO); order of joining decides admin hand-over. */
  members: Record<string, string>;
  /** user id → admin since (ISO). Direct rooms have none. */
  admins: Record<string, string>;
  /** Cleared for everyone up to this seq (0: never). */
  cleared_seq: number;
  cleared_at: string | null;
  /**
   * A direct room's members who block the other (CONTRACT §9): while any does,
   * neither may send into it or be told the other is typing. Kept on the room
   * by the block itself, so a send, which reads the room anyway, checks it for
   * free. Absent or empty: no block.
   */
  blocked_by?: string[];
}

export const REPORT_REASONS = [
  'spam',
  'harassment',
  'hate',
  'sexual',
  'violence',
  'other',
] as const;
export type ReportReason = (typeof REPORT_REASONS)[number];

/** The message as it was when reported: kept even if it is deleted later. */
export interface ReportEvidence {
  message_id: string;
  room_id: string;
  sender_id: string;
  content: string;
  encrypted_content: string | null;
  attachments: AttachmentRef[];
  created_at: string;
}

/** A report (CONTRACT §9): open until a moderator resolves it. */
export interface ReportRecord {
  report_id: string;
  status: 'open' | 'closed';
  reason: ReportReason;
  note: string | null;
  reporter_id: string;
  /** The user reported: the message's sender, or the one named. */
  user_id: string | null;
  created_at: string;
  evidence: ReportEvidence | null;
  /** How a moderator closed it (absent while open). */
  resolution?: ReportResolution;
}

export const RESOLVE_ACTIONS = ['dismiss', 'remove_message', 'suspend_user'] as const;
export type ResolveAction = (typeof RESOLVE_ACTIONS)[number];

export interface ReportResolution {
  action: ResolveAction;
  moderator_id: string;
  note: string | null;
  resolved_at: string;
}

/**
 * A suspension (CONTRACT §9): while it stands (no `until`, or `until` ahead),
 * every route answers 403 SUSPENDED and no socket stays open.
 */
export interface SuspensionRecord {
  user_id: string;
  reason: string;
  /** Ends by itself at this time; null: until a moderator lifts it. */
  until: string | null;
  suspended_by: string;
  suspended_at: string;
}

export const AUDIT_ACTIONS = [...RESOLVE_ACTIONS, 'suspend', 'lift_suspension'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** One moderator action, as moderators list them: who, what, when, why. */
export interface AuditEntry {
  audit_id: string;
  moderator_id: string;
  action: AuditAction;
  /** The user acted on (the suspended one, the reported one), if any. */
  user_id: string | null;
  report_id: string | null;
  message_id: string | null;
  /** Why: the moderator's note or the suspension's reason. */
  note: string | null;
  at: string;
}

/** A user the caller blocks (GET /api/chat/blocks). */
export interface BlockEntry {
  user_id: string;
  blocked_at: string;
}

/** A new room: its members joined `now`; a group's creator is its first admin. */
export function newRoom(
  id: string,
  type: RoomType,
  name: string | null,
  creator: string,
  memberIds: readonly string[],
  now: string,
): RoomRecord {
  return {
    id,
    type,
    name,
    created_by: creator,
    created_at: now,
    updated_at: now,
    members: Object.fromEntries(memberIds.map((u) => [u, now])),
    admins: type === 'group' ? { [creator]: now } : {},
    cleared_seq: 0,
    cleared_at: null,
  };
}

/** One user's state in one room (the requirements' user_chat_preferences). */
export interface MemberState {
  user_id: string;
  room_id: string;
  joined_at: string;
  /**
   * Highest message seq the user has read (or sent, in a group). In a direct room
   * the user's own sends are on the head instead: read with ownReadSeq.
   */
  read_seq: number;
  last_read_message_id: string | null;
  last_read_at: string | null;
  is_archived: boolean;
  archived_at: string | null;
  is_muted: boolean;
  muted_until: string | null;
  /** A deleted direct room is hidden from this user until a newer message arrives. */
  is_deleted: boolean;
  deleted_at: string | null;
  /** Cleared for this user up to this seq (0: never). */
  cleared_seq: number;
  cleared_at: string | null;
  manual_unread: boolean;
  /** The room's seq when it was marked unread: a later own send (head.sent_seqs) ends the mark. */
  manual_unread_seq: number;
}

export interface ForwardMetadata {
  message_id: string;
  original_sender: string;
  original_room: string;
}

export interface MessageRecord {
  id: string;
  room_id: string;
  seq: number;
  sender_id: string;
  sender_name: string;
  content: string;
  message_type: string;
  file_url: string | null;
  media: unknown;
  reply_to_message_id: string | null;
  /**
   * The quoted original (CONTRACT §10), taken at send time. Whether it was
   * deleted since is joined in when the reply is read (domain/replies.ts), so a
   * deletion rewrites no reply.
   */
  reply_to: ReplyQuote | null;
  /** Members the message mentions (CONTRACT §10); [] for none. */
  mentions: string[];
  forwarded_from: string | null;
  /** forward_depth: hops from the first original; clients label 5+ "forwarded many times". */
  metadata: { forwarded_from?: ForwardMetadata; forward_depth?: number } | null;
  forwarded_count: number;
  is_encrypted: boolean;
  encryption_key_id: string | null;
  encrypted_content: string | null;
  is_deleted: boolean;
  /** A failed send's sequence number: never shown, never counted. */
  is_tombstone?: boolean;
  /** Files the message carries, in the order sent (CONTRACT §8); [] for none. */
  attachments: AttachmentRef[];
  created_at: string;
}

/** A reply's quote of its original, as stored with the reply. */
export interface ReplyQuote {
  message_id: string;
  sender_id: string;
  /** The original's first REPLY_PREVIEW_CHARS characters ('' for an encrypted original). */
  preview: string;
}

/** How much of the original a reply quotes (CONTRACT §10). */
export const REPLY_PREVIEW_CHARS = 100;

/** A reply's quote of `original`: its first characters, never ciphertext. */
export const replyQuote = (original: MessageRecord): ReplyQuote => ({
  message_id: original.id,
  sender_id: original.sender_id,
  preview: original.is_encrypted
    ? ''
    : [...original.content].slice(0, REPLY_PREVIEW_CHARS).join(''),
});

/** An attachment as a message carries it (the wire Attachment). */
export interface AttachmentRef {
  id: string;
  content_type: string;
  /** What storage holds (HeadObject at send time), not what the slot declared. */
  size_bytes: number;
  file_name: string | null;
  is_encrypted: boolean;
  created_at: string;
  /**
   * The ETag storage held when the send claimed the file: the bytes the message
   * carries. Internal (never on the wire): a re-upload through a still-valid slot
   * changes it, and the attachments queue's check then removes the swapped bytes.
   */
  etag?: string;
}

/**
 * An uploaded file: `pending` from its upload slot until a message names it,
 * then `sent`. `bundle` is the id of the message that first carried it: a
 * forwarded copy carries the same files, and each message carrying a bundle
 * has one carrier item under it (store/attachments.ts), which is what a
 * download checks and what keeps the bytes alive.
 */
export interface AttachmentRecord extends AttachmentRef {
  // etag (from AttachmentRef): what the claiming send saw in storage.
  room_id: string;
  uploader_id: string;
  state: 'pending' | 'sent';
  bundle: string | null;
}

/** The bundle a message's files belong to: the first original's id (forwarded copies share it). */
export const attachmentBundle = (message: Pick<MessageRecord, 'id' | 'metadata'>) =>
  message.metadata?.forwarded_from?.message_id ?? message.id;

/**
 * What makes a send idempotent per (sender, room, temp_id): the message it made,
 * and a hash of the request, so a replay of another message under the same
 * temp_id is refused, not confirmed.
 */
export interface SendReceipt {
  user_id: string;
  room_id: string;
  temp_id: string;
  message_id: string;
  request_hash: string;
  /**
   * When the message was stamped: a retry that finds the receipt but not its
   * message (the send died between its two writes) stores it as it would have
   * been. Absent on receipts written before it was kept.
   */
  created_at?: string | undefined;
}

/**
 * A message waiting for a user who was offline: a reference to it, not its
 * content. A flush re-reads the message itself, so an edit, delete or purge
 * since it was queued shows.
 */
export interface PendingMessage {
  id: string;
  room_id: string;
  created_at: string;
}

/** Who sends or forwards a message (the authenticated caller). */
export interface Sender {
  userId: string;
  name: string;
}

/** What a send request says of its message (the validated send body). */
export interface MessageContent {
  content: string;
  message_type: string;
  file_url?: string | null | undefined;
  media?: unknown;
  reply_to_message_id?: string | null | undefined;
  /** Resolved by the send from reply_to_message_id. */
  reply_to?: ReplyQuote | null | undefined;
  mentions?: readonly string[] | undefined;
  is_encrypted: boolean;
  encryption_key_id?: string | null | undefined;
  encrypted_content?: string | null | undefined;
  /** Resolved by the send from its attachment_ids. */
  attachments?: readonly AttachmentRef[] | undefined;
}

/** Where a message goes: its id (the store's format), its room, and the seq it took. */
export type MessagePlace = Pick<MessageRecord, 'id' | 'room_id' | 'seq'>;

/** A sent message, as stored. */
export function newMessage(
  place: MessagePlace,
  sender: Sender,
  input: MessageContent,
  at: string,
): MessageRecord {
  return {
    id: place.id,
    room_id: place.room_id,
    seq: place.seq,
    sender_id: sender.userId,
    sender_name: sender.name,
    content: input.content,
    message_type: input.message_type,
    file_url: input.file_url ?? null,
    media: input.media ?? null,
    reply_to_message_id: input.reply_to_message_id ?? null,
    reply_to: input.reply_to ?? null,
    mentions: [...(input.mentions ?? [])],
    forwarded_from: null,
    metadata: null,
    forwarded_count: 0,
    is_encrypted: input.is_encrypted,
    encryption_key_id: input.encryption_key_id ?? null,
    encrypted_content: input.encrypted_content ?? null,
    is_deleted: false,
    attachments: [...(input.attachments ?? [])],
    created_at: at,
  };
}

/**
 * What fills a number whose send failed after taking it: a deleted, empty
 * message, so the list and unread counts see no gap.
 */
export function tombstone(
  place: MessagePlace,
  taken: Pick<MessageRecord, 'sender_id' | 'created_at'>,
): MessageRecord {
  return {
    ...newMessage(
      place,
      { userId: taken.sender_id, name: taken.sender_id },
      { content: '', message_type: 'text', is_encrypted: false },
      taken.created_at,
    ),
    is_deleted: true,
    is_tombstone: true,
  };
}

/** A forwarded copy: it keeps pointing at the first original, and counts how many hops it has come. */
export function forwardedCopy(
  source: MessageRecord,
  place: MessagePlace,
  sender: Sender,
  at: string,
): MessageRecord {
  const original: ForwardMetadata = source.metadata?.forwarded_from ?? {
    message_id: source.id,
    original_sender: source.sender_id,
    original_room: source.room_id,
  };
  return {
    ...source,
    id: place.id,
    room_id: place.room_id,
    seq: place.seq,
    sender_id: sender.userId,
    sender_name: sender.name,
    reply_to_message_id: null,
    reply_to: null,
    // A copy mentions no one: the original's mentions were members of another room.
    mentions: [],
    forwarded_from: source.id,
    metadata: {
      forwarded_from: original,
      forward_depth: (source.metadata?.forward_depth ?? 0) + 1,
    },
    forwarded_count: 0,
    is_deleted: false,
    created_at: at,
  };
}

/**
 * Membership tests use own properties only: `userId in room.members` would make
 * a user named `toString` or `constructor` a member of every room.
 */
export const isMember = (room: Pick<RoomRecord, 'members'>, userId: string) =>
  Object.hasOwn(room.members, userId);
export const isAdmin = (room: Pick<RoomRecord, 'admins'>, userId: string) =>
  Object.hasOwn(room.admins, userId);

/** A member's state when they join a room: everything up to `readSeq` counts as read. */
export function newMemberState(
  userId: string,
  roomId: string,
  joinedAt: string,
  readSeq = 0,
): MemberState {
  return {
    user_id: userId,
    room_id: roomId,
    joined_at: joinedAt,
    read_seq: readSeq,
    last_read_message_id: null,
    last_read_at: null,
    is_archived: false,
    archived_at: null,
    is_muted: false,
    muted_until: null,
    is_deleted: false,
    deleted_at: null,
    cleared_seq: readSeq,
    cleared_at: null,
    manual_unread: false,
    manual_unread_seq: 0,
  };
}

/** A live WebSocket connection, as $connect records it. */
export interface ConnectionRecord {
  connection_id: string;
  user_id: string;
  name: string;
  connected_at: string;
  /** When the token the socket opened with expires: the sweeper closes the socket then. */
  token_expires_at?: string;
}

/** One of a user's live connections, as a fan-out reads it. */
export interface LiveConnection {
  id: string;
  connected_at: string;
}

/** A push device (APNs or FCM) and its SNS platform endpoint. */
export interface DeviceRecord {
  device_id: string;
  user_id: string;
  platform: 'apns' | 'fcm';
  token: string;
  endpoint_arn: string | null;
  created_at: string;
}

/** A device's public encryption key (history kept; one active per device). */
export interface KeyRecord {
  user_id: string;
  device_id: string;
  key_id: string;
  public_key: string;
  fingerprint: string;
  algorithm: string;
  is_active: boolean;
  created_at: string;
  expires_at: string | null;
}

/** A verifier's verification of an owner's key: it lapses when that key is no longer active. */
export interface KeyVerification {
  verifier_user_id: string;
  verified_user_id: string;
  key_id: string;
  /** The fingerprint that was verified. */
  fingerprint: string;
  verified_at: string;
}

/** A user's presence; `offline_due_at` is set while an offline is pending. */
export interface PresenceRecord {
  user_id: string;
  status: 'online' | 'offline';
  last_seen: string;
  offline_due_at?: string;
}

/** Who may put a user into a group (CONTRACT §9 "Consent to groups"). */
export const WHO_CAN_ADD_ME = ['everyone', 'nobody'] as const;
export type WhoCanAddMe = (typeof WHO_CAN_ADD_ME)[number];

/**
 * A user's own settings (`GET/PUT /api/chat/me/settings`). Each setting is
 * stored only once the user sets it; one never set has its default, so a
 * setting added later (the contract's `read_receipts`) needs no migration:
 * add it here and to DEFAULT_USER_SETTINGS.
 */
export interface UserSettings {
  who_can_add_me: WhoCanAddMe;
}

export const DEFAULT_USER_SETTINGS: Readonly<UserSettings> = { who_can_add_me: 'everyone' };

/** What the store holds for a user: only the settings they have set. */
export type StoredUserSettings = Partial<UserSettings>;

/** An entry of a room's or a user's event log, what sync replays besides the messages. */
export interface LoggedEvent {
  /** Sort position: `<at>#<ulid>`, unique and in time order. */
  key: string;
  at: string;
  event: string;
  data: Record<string, unknown>;
}
