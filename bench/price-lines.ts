import { functionMemoryMb, OBSERVABILITY } from '#lib/chat-function.ts';
import { type Capacity, PROVISIONED } from '#lib/table.ts';
import { billedMsAt, type Units } from './meter.ts';
import { GB_BYTES, PRICES } from './prices.ts';

/**
 * Every billed line of some metered work (issue 24 A1), at list prices and the
 * settings the stack deploys with (lib/chat-function.ts OBSERVABILITY, each
 * function's memory):
 *
 * - DynamoDB request units, failed conditional writes included (bench/meter.ts);
 * - Lambda requests, and duration modeled from the measured invocations
 *   (bench/lambda-time.ts) at each function's memory;
 * - API Gateway: WebSocket messages (per 32 KB, each way), HTTP requests;
 * - SQS requests and SNS publishes;
 * - CloudWatch Logs ingestion: the functions' own JSON lines (Powertools logs,
 *   EMF metrics; measured), Lambda's START and REPORT lines where the stack keeps
 *   them, and one access-log line per HTTP request and per inbound WebSocket
 *   frame (pings included: the gateway logs every route);
 * - X-Ray traces, at Lambda's fixed sampling when tracing is active;
 * - data transfer out of AWS: the frames and HTTP answers clients receive.
 */
export interface Traffic {
  wsIn: number;
  wsOut: number;
  httpRequests: number;
  /** Bytes that leave AWS: frames pushed to clients and HTTP answers. */
  bytesOut: number;
}

export interface PriceLine {
  line: string;
  service: Service;
  quantity: number;
  unit: string;
  usd: number;
}

export type Service =
  | 'dynamodb'
  | 'lambda'
  | 'websocket'
  | 'http'
  | 'sqs'
  | 'sns'
  | 'logs'
  | 'xray'
  | 'transfer';

/**
 * Sizes of the log lines the bench cannot see (CloudWatch Logs bills each event's
 * bytes plus 26 bytes of metadata,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html).
 * START and REPORT as Lambda writes them in JSON format (with the X-Ray line
 * when tracing), and an access-log line of the stack's formats (lib/http-api.ts,
 * lib/websocket-api.ts) with typical values.
 */
const LOG_EVENT_OVERHEAD_BYTES = 26;
const PLATFORM_START_BYTES = 170;
const PLATFORM_REPORT_BYTES = 330;
const ACCESS_LOG_LINE_BYTES = 150;

/** What one consumed write and read unit costs under each billing mode. */
function unitPrices(capacity: Capacity) {
  if (capacity === 'on-demand')
    return { write: PRICES.dynamodb.writeRequestUnit, read: PRICES.dynamodb.readRequestUnit };
  const utilization = PROVISIONED.targetUtilizationPercent / 100;
  return {
    write: PRICES.dynamodb.writeCapacityUnitHour / 3600 / utilization,
    read: PRICES.dynamodb.readCapacityUnitHour / 3600 / utilization,
  };
}

export function priceLines(units: Units, traffic: Traffic, capacity: Capacity = 'on-demand') {
  const lines: PriceLine[] = [];
  const add = (line: string, service: Service, quantity: number, unit: string, each: number) =>
    lines.push({ line, service, quantity, unit, usd: quantity * each });
  const unit = unitPrices(capacity);
  const mode = capacity === 'on-demand' ? 'request' : 'capacity (provisioned)';

  add(
    `DynamoDB write ${mode} units`,
    'dynamodb',
    units.writeUnits - units.failedWriteUnits,
    'WRU',
    unit.write,
  );
  add(
    'DynamoDB write units of failed conditions',
    'dynamodb',
    units.failedWriteUnits,
    'WRU',
    unit.write,
  );
  add(`DynamoDB read ${mode} units`, 'dynamodb', units.readUnits, 'RRU', unit.read);

  const tallies = Object.entries(units.lambda);
  const invocations = tallies.reduce((n, [, t]) => n + t.invocations, 0);
  add('Lambda requests', 'lambda', invocations, 'requests', PRICES.lambda.request);
  const gbSeconds = tallies.reduce(
    (n, [handler, t]) =>
      n + (billedMsAt(t, functionMemoryMb(handler)) / 1000) * (functionMemoryMb(handler) / 1024),
    0,
  );
  add('Lambda duration (modeled, arm64)', 'lambda', gbSeconds, 'GB-s', PRICES.lambda.gbSecond);

  add(
    'API Gateway WebSocket messages (in + out)',
    'websocket',
    traffic.wsIn + traffic.wsOut,
    'messages',
    PRICES.apiGateway.webSocketMessage,
  );
  add(
    'API Gateway HTTP requests',
    'http',
    traffic.httpRequests,
    'requests',
    PRICES.apiGateway.httpRequest,
  );
  add('SQS requests', 'sqs', units.sqsRequests, 'requests', PRICES.sqs.request);
  add('SNS publishes', 'sns', units.snsPublishes, 'publishes', PRICES.sns.publish);

  const perEvent = (bytes: number) => (bytes + LOG_EVENT_OVERHEAD_BYTES) / GB_BYTES;
  const ownBytes = units.logBytes + units.logEvents * LOG_EVENT_OVERHEAD_BYTES;
  add(
    "CloudWatch Logs: functions' log and metric lines (measured)",
    'logs',
    ownBytes / GB_BYTES,
    'GB',
    PRICES.cloudWatch.logsIngestedGb,
  );
  if (OBSERVABILITY.platformLogLines) {
    add(
      'CloudWatch Logs: Lambda START and REPORT lines',
      'logs',
      invocations * (perEvent(PLATFORM_START_BYTES) + perEvent(PLATFORM_REPORT_BYTES)),
      'GB',
      PRICES.cloudWatch.logsIngestedGb,
    );
  }
  add(
    'CloudWatch Logs: API access logs',
    'logs',
    (traffic.httpRequests + traffic.wsIn) * perEvent(ACCESS_LOG_LINE_BYTES),
    'GB',
    PRICES.cloudWatch.logsIngestedGb,
  );
  add(
    `X-Ray traces (${OBSERVABILITY.tracing ? 'active' : 'off'})`,
    'xray',
    OBSERVABILITY.tracing ? invocations * PRICES.xray.lambdaSampledShare : 0,
    'traces',
    PRICES.xray.traceRecorded,
  );
  add(
    'Data transfer out',
    'transfer',
    traffic.bytesOut / GB_BYTES,
    'GB',
    PRICES.dataTransfer.outGb,
  );

  const total = lines.reduce((n, l) => n + l.usd, 0);
  const parts = {} as Record<Service, number>;
  for (const l of lines) parts[l.service] = (parts[l.service] ?? 0) + l.usd;
  return { total, parts, lines };
}
