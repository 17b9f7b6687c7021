/** CONTRACT §7 defaults. */
export const LIMITS = {
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
  /** Sync reaches back this far (CONTRACT §6: at least 7 days); its event logs live a day longer. */
  syncWindowSeconds: 7 * 24 * 3600,
  syncEventTtlSeconds: 8 * 24 * 3600,
  syncPageDefault: 200,
  syncPageMax: 500,
  /** How long a send's temp_id stays remembered. */
  tempIdTtlSeconds: 7 * 24 * 3600,
} as const;
