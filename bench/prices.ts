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
    /**
     * Provisioned capacity (`-c capacity=provisioned`): per write / read capacity
     * unit-hour. A unit-hour serves 3,600 units of one a second; auto scaling
     * keeps utilization near lib/table.ts PROVISIONED.targetUtilizationPercent,
     * so a consumed unit costs unitHour / 3600 / utilization.
     */
    writeCapacityUnitHour: 0.00065,
    readCapacityUnitHour: 0.00013,
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
     * @connections GetConnection and DeleteConnection carry no frame. API Gateway's
     * FAQ: "For WebSocket APIs, you pay only for messages sent and received and for
     * the time a user or device is connected" (https://aws.amazon.com/api-gateway/faqs/,
     * "Billing"; the pricing page lists the same two meters), so they are priced at 0.
     * Were each billed as a message, the idle month would grow by its calls × $1/1M;
     * the bench prints that figure beside the idle cost.
     */
    managementCall: 0,
  },
  sqs: { request: 0.4 / 1e6 },
  /** CloudWatch Logs, Standard class: ingestion per GB (storage for a month's retention is ~3% of it, left out). */
  cloudWatch: { logsIngestedGb: 0.5 },
  /**
   * X-Ray: per trace recorded; Lambda's active tracing samples the first request
   * each second and 5% of the rest, per function
   * (https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html), taken as 5%
   * of invocations at load.
   */
  xray: { traceRecorded: 5.0 / 1e6, lambdaSampledShare: 0.05 },
  sns: { publish: 0.5 / 1e6, mobilePush: 0.5 / 1e6 },
  /**
   * Attachments' bucket, S3 Standard: https://aws.amazon.com/s3/pricing/ (the
   * figures of issue 22 item 10, not re-read from the page for `pricedOn`).
   * AWS bills a GB as 2^30 bytes (GB_BYTES).
   */
  s3: {
    /** PUT, COPY, POST, LIST requests; PutObjectTagging is a PUT. */
    putCopyPostListRequest: 0.005 / 1000,
    /** GET, SELECT, HEAD and all other requests. */
    getHeadRequest: 0.0004 / 1000,
    /** DELETE and CANCEL requests are free. */
    deleteRequest: 0,
    storageGbMonth: 0.023,
    /** Object tags (the bucket's `chat-state` tag): $0.01 per 10,000 tags a month. */
    tagMonth: 0.01 / 10_000,
  },
  dataTransfer: {
    /**
     * To the internet, the first 10 TB a month: S3's page, "Data Transfer"; API
     * Gateway bills its frames and answers at the same EC2 rate.
     */
    outGb: 0.09,
    /**
     * CloudFront to the internet, first 10 TB, North America and Europe
     * (https://aws.amazon.com/cloudfront/pricing/); S3 to CloudFront is free.
     * For comparison only: the stack serves files from S3 presigned URLs,
     * each signed for one viewer by the function's role. A distribution would
     * need CloudFront-signed URLs (a key pair the functions hold) and origin
     * access control on the bucket, for $0.005 less per downloaded GB (its
     * own request price added) and cached copies for a room's other members.
     */
    cloudFrontOutGb: 0.085,
  },
  /** Ably's published per-message list price, the hosted service the issue compares with. */
  reference: { hostedPerMillionMessages: { '2': 5, '10': 25, '100': 250 } },
} as const;

/** A billed GB: AWS counts storage and transfer in units of 2^30 bytes. */
export const GB_BYTES = 2 ** 30;
