/**
 * The single table's physical definition. The CDK table construct and the local
 * cloud (DynamoDB Local) both derive the table from this object, so the two can
 * never drift apart.
 */
export const tableSchema = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; DynamoDB deletes expired items within ~48 h, so readers also filter. */
  ttlAttribute: 'ttl',
  /**
   * The stream is the outbox (streams/room-activity.ts): it delivers stored
   * messages, checks taken sequence numbers, remembers deletions and runs purges;
   * deletions are seen by comparing the images, so both are needed.
   */
  streamView: 'NEW_AND_OLD_IMAGES',
  globalIndexes: [
    /**
     * Background sweeps only: connections by shard (CONNS#<n> / connected_at)
     * and users due to go offline (PRESENCE_DUE#<n> / due time). Both queries
     * read the keys and the owner (a connection's sort key also carries when its
     * token expires), so the index projects `user_id` and nothing else; nothing
     * on it moves per message or per heartbeat.
     */
    {
      name: 'gsi1',
      partitionKey: 'gsi1pk',
      sortKey: 'gsi1sk',
      nonKeyAttributes: ['user_id'],
    },
  ],
} as const;

export type TableSchema = typeof tableSchema;

/** The keys and indexes in DynamoDB's own API shape (CreateTable, and CloudFormation's). */
export const tableKeyDefinitions = {
  KeySchema: [
    { AttributeName: tableSchema.partitionKey, KeyType: 'HASH' as const },
    { AttributeName: tableSchema.sortKey, KeyType: 'RANGE' as const },
  ],
  GlobalSecondaryIndexes: tableSchema.globalIndexes.map((g) => ({
    IndexName: g.name,
    KeySchema: [
      { AttributeName: g.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: g.sortKey, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: [...g.nonKeyAttributes] },
  })),
};
