/**
 * AWS list prices the cost benchmark uses: us-east-1, on-demand, first pricing
 * tier, as published on the services' pricing pages on `pricedOn`. One file, so
 * a price change is one edit.
 */
export const PRICES = {
  pricedOn: '2026-11-25',
  region: 'us-east-1',
  dynamodb: {
    /** On-demand (the table's billing mode): per million write / read request units. */
    writeRequestUnit: 0.625 / 1e6,
    readRequestUnit: 0.125 / 1e6,
    /** Lambda reading the table's stream is free (GetRecords by a Lambda trigger is not billed). */
    streamReadRequest: 0,
  },
  lambda: {
    /** arm64 (every function is Graviton). */
    request: 0.2 / 1e6,
    gbSecond: 0.0000133334,
  },
  apiGateway: {
    /** WebSocket: each frame in either direction, per 32 KB, is a message. */
    webSocketMessage: 1.0 / 1e6,
    connectionMinute: 0.25 / 1e6,
    httpRequest: 1.0 / 1e6,
    /**
     * @connections GetConnection/DeleteConnection carry no frame; the pricing page
     * bills messages and connection minutes only, so they are priced at 0 here.
     */
    managementCall: 0,
  },
  sqs: { request: 0.4 / 1e6 },
  sns: { publish: 0.5 / 1e6, mobilePush: 0.5 / 1e6 },
  /** Ably's published per-message list price, the hosted service the issue compares with. */
  reference: { hostedPerMillionMessages: { '2': 5, '10': 25, '100': 250 } },
} as const;
