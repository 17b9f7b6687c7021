import { ENV, jsonSettingFromContext } from './env.ts';
import { ConfigError } from './errors.ts';

/**
 * API Gateway's largest WebSocket message, 128 KB (its quota "WebSocket
 * message payload size", 128 KiB = 131,072 bytes; a message of several 32 KB
 * frames, docs.aws.amazon.com/apigateway/latest/developerguide/limits.html).
 * A bigger PostToConnection is refused with 413 PayloadTooLargeException and
 * the client gets nothing. Not a setting: it is the platform's.
 */
export const WS_MESSAGE_BYTES = 128 * 1024;

/** The contract's limits (its section 7) and the server's own bounds, as defaults. */
const DEFAULTS = {
  bodyBytes: 32 * 1024,
  contentChars: 10_000,
  groupMembers: 1_000,
  pageSizeDefault: 50,
  pageSizeMax: 100,
  seenIdsMax: 100,
  batchReadRooms: 100,
  forwardTargets: 10,
  publicKeyBytes: 8 * 1024,
  /**
   * Members one request may add (creating a group or adding members); a group
   * still holds groupMembers. 99: adding is one transaction of the room and the
   * new member items, and a transaction holds at most 100 items.
   */
  membersPerRequest: 99,
  /** Push devices per user: registering one more drops the least recently registered. */
  devicesPerUser: 10,
  /** Open WebSocket connections per user: a new one closes the oldest beyond this. */
  connectionsPerUser: 10,
  /** `media` is free-form JSON: bounded so DynamoDB always accepts it (it allows 32 levels). */
  mediaDepth: 8,
  mediaBytes: 16 * 1024,
  /** Posts to @connections in flight at once per fan-out (API Gateway quota is account-wide). */
  fanOutConcurrency: 32,
  /** last_seen is written at most this often per connection, to save write capacity. */
  lastSeenWriteIntervalMs: 10_000,
  /** One push per user per burst of messages. */
  pushBurstWindowMs: 60_000,
  /** $connect must return before its connection can be posted to. */
  flushDelaySeconds: 1,
  pendingFlushBatch: 100,
  /** Rooms with more other members than this fan out through SQS chunks, off the send's request path. */
  inlineFanOutMembers: 100,
  /** Members per fan-out chunk (one SQS message, one consumer invocation's share). */
  fanOutChunkMembers: 100,
  /** Deleted and tombstoned seqs a room keeps for unread counts (exact unless more were deleted since a read). */
  deletedSeqsKept: 1_000,
  /** Seen receipts expire: they matter for the live "seen" ticks, not forever. */
  seenReceiptTtlSeconds: 30 * 24 * 3600,
  /** A taken number with no message this long after is abandoned (well past a send's timeout). */
  gapCheckDelaySeconds: 30,
  /** Sync reaches back this far (protocol: at least 7 days); its event logs live a day longer. */
  syncWindowSeconds: 7 * 24 * 3600,
  syncEventTtlSeconds: 8 * 24 * 3600,
  syncPageDefault: 200,
  syncPageMax: 500,
  /**
   * A sync page's events, serialized, stay within this many bytes: a page ends
   * early (`has_more`) rather than make a `sync-result` over WS_MESSAGE_BYTES
   * (200 messages of 10,000 characters are 2 MB and more). The 8 KiB left is for
   * the rest of the frame: its name, `next_since` (a cursor of at most 2,048
   * characters) and `has_more`. A page holds at least one event whatever its
   * size, so paging always moves on; one event never comes near the cap: a
   * message is written from a request of at most bodyBytes (32 KB), plus the
   * fields the server sets, and every other event is ids and times.
   */
  syncPageBytes: WS_MESSAGE_BYTES - 8 * 1024,
  /** How long a send's temp_id stays remembered. */
  tempIdTtlSeconds: 7 * 24 * 3600,
  /** Files one message carries (CONTRACT §7). */
  attachmentsPerMessage: 10,
  /** Members one message may mention (CONTRACT §10). */
  mentionsPerMessage: 50,
  /** Largest file per kind, in bytes (MB = 1,000,000 bytes; CONTRACT §7). */
  imageBytes: 16_000_000,
  audioBytes: 16_000_000,
  videoBytes: 64_000_000,
  fileBytes: 100_000_000,
  /** An upload slot's presigned POST is valid this long (CONTRACT §8: 15 minutes). */
  uploadSlotSeconds: 15 * 60,
  /** A download URL is valid at most this long (CONTRACT §8: 15 minutes). */
  downloadUrlSeconds: 15 * 60,
  /** An unsent slot's record goes after a day, as its bytes do (the bucket's lifecycle rule). */
  unsentAttachmentTtlSeconds: 24 * 3600,
  /** Messages carrying one attachment checked per page by a download. */
  attachmentCarriersPage: 30,
};

/**
 * The limits a stage may change (CDK context `limits`, e.g.
 * `-c 'limits={"groupMembers":500}'`; locally the CHAT_LIMITS variable), each
 * with the most the platform allows: one transaction holds 100 items (the
 * room or the source message plus the new items), a BatchGet 100 keys, an
 * API Gateway WebSocket frame 32 KB, and a DynamoDB item 400 KB (the room item
 * holds the members map: 2,000 members with 128-character ids fill ~320 KB).
 */
export const STAGE_LIMITS = {
  contentChars: 10_000,
  groupMembers: 2_000,
  membersPerRequest: 99,
  forwardTargets: 99,
  seenIdsMax: 100,
  batchReadRooms: 100,
  bodyBytes: 32 * 1024,
  publicKeyBytes: 32 * 1024,
  devicesPerUser: 100,
  connectionsPerUser: 100,
} as const satisfies Partial<Record<keyof typeof DEFAULTS, number>>;

export type StageLimit = keyof typeof STAGE_LIMITS;

/**
 * Parses per-stage overrides (JSON object: limit → whole number from 1 to its
 * maximum). Anything else is a ConfigError: the synth refuses it, and a function
 * given it fails at cold start rather than run with a limit nobody chose.
 */
export function limitOverrides(json: string | undefined): Partial<Record<StageLimit, number>> {
  if (json === undefined || json === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (cause) {
    throw new ConfigError(`${ENV.chatLimits} is not JSON`, cause);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new ConfigError(`${ENV.chatLimits} must be an object of limit → number`);
  const out: Partial<Record<StageLimit, number>> = {};
  for (const [name, n] of Object.entries(value)) {
    if (!Object.hasOwn(STAGE_LIMITS, name))
      throw new ConfigError(
        `${name} is not a limit a stage may set (one of ${Object.keys(STAGE_LIMITS).join(', ')})`,
      );
    const max = STAGE_LIMITS[name as StageLimit];
    if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > max)
      throw new ConfigError(`Limit ${name} must be a whole number from 1 to ${max}`);
    out[name as StageLimit] = n as number;
  }
  const group = out.groupMembers ?? DEFAULTS.groupMembers;
  if (out.membersPerRequest === undefined) {
    // A smaller group caps what one request may add.
    if (group < DEFAULTS.membersPerRequest) out.membersPerRequest = group;
  } else if (out.membersPerRequest > group) {
    throw new ConfigError('Limit membersPerRequest cannot exceed groupMembers');
  }
  return out;
}

/** A stage's `limits` context value as the functions' CHAT_LIMITS. */
export const limitsFromContext = (value: unknown) => jsonSettingFromContext(value, limitOverrides);

/** Read once at cold start: the defaults with this stage's overrides. */
export const LIMITS: Readonly<typeof DEFAULTS> = {
  ...DEFAULTS,
  ...limitOverrides(process.env[ENV.chatLimits]),
};
