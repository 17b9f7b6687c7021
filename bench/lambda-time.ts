import type { InvocationTrace } from '#local/lambda-runtime.ts';

/**
 * Lambda's billed time for an invocation measured locally (issue 24 A1). A local
 * invocation's wall time says little about AWS: DynamoDB Local answers in
 * 2–20 ms where DynamoDB answers in single-digit milliseconds, and this
 * machine's cores are not a Lambda's. So each invocation is split in two:
 *
 * - **its waits on AWS**: the calls it made (bench/meter.ts traces them), grouped
 *   into round trips (calls that overlap in time are one), each round trip
 *   costing what the slowest of its calls takes on AWS (AWS_CALL_MS);
 * - **its own compute**: the wall time outside those calls, scaled by the CPU
 *   share Lambda gives the memory size (a full vCPU at 1,769 MB, linearly below:
 *   https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html),
 *   taking this machine's core as one vCPU. It includes waits for this
 *   process's event loop, which other invocations share here, so it is an upper
 *   bound.
 *
 * Billed duration is rounded up to the millisecond, as Lambda bills.
 */

/**
 * Time one call takes on AWS, from a function in the same region, in ms. Assumed
 * from the services' published figures, not measured (there is no AWS here):
 * DynamoDB's "single-digit millisecond" reads and writes; a transaction twice a
 * write; SQS, SNS, API Gateway's @connections and S3 as typical in-region calls.
 */
export const AWS_CALL_MS: Record<string, number> = {
  dynamodb: 6,
  'dynamodb-transaction': 12,
  sqs: 10,
  sns: 20,
  connections: 15,
  s3: 20,
  other: 15,
};

/** Lambda gives a full vCPU at this memory size, and a proportional share below it. */
export const FULL_VCPU_MB = 1769;

export interface ModeledInvocation {
  /** Wall time outside AWS calls, measured here. */
  computeMs: number;
  roundTrips: number;
  /** The round trips' time on AWS (AWS_CALL_MS). */
  awsWaitMs: number;
}

/** Splits one measured invocation into its own compute and its AWS round trips. */
export function modelInvocation(wallMs: number, trace: InvocationTrace): ModeledInvocation {
  const calls = [...trace.calls].sort((a, b) => a.start - b.start);
  let waited = 0;
  let roundTrips = 0;
  let awsWaitMs = 0;
  let clusterEnd = Number.NEGATIVE_INFINITY;
  let clusterStart = 0;
  let clusterAws = 0;
  const close = () => {
    if (roundTrips === 0) return;
    waited += clusterEnd - clusterStart;
    awsWaitMs += clusterAws;
  };
  for (const call of calls) {
    const aws = AWS_CALL_MS[call.service] ?? AWS_CALL_MS.other!;
    if (call.start > clusterEnd) {
      close();
      roundTrips++;
      clusterStart = call.start;
      clusterEnd = call.end;
      clusterAws = aws;
    } else {
      clusterEnd = Math.max(clusterEnd, call.end);
      clusterAws = Math.max(clusterAws, aws);
    }
  }
  close();
  return { computeMs: Math.max(0, wallMs - waited), roundTrips, awsWaitMs };
}

/** The billed milliseconds of a modeled invocation at `memoryMb`. */
export function billedMs(invocation: ModeledInvocation, memoryMb: number): number {
  const cpuShare = Math.min(1, memoryMb / FULL_VCPU_MB);
  return Math.max(1, Math.ceil(invocation.computeMs / cpuShare + invocation.awsWaitMs));
}

/** Memory sizes the sizing table tries (Lambda Power Tuning's method, on the model above). */
export const MEMORY_CANDIDATES_MB = [256, 512, 1024, 1769] as const;
/** A size is kept only if its p95 stays within this of the default size's. */
export const P95_TOLERANCE = 1.1;
/**
 * The slowest bundle's import, measured at a full vCPU (`npm run bench -- bundles`
 * keeps every bundle under 150 ms), and the cold start a size must keep under
 * COLD_START_LIMIT_MS at its CPU share: the import is the part of a cold start
 * that memory changes.
 */
export const BUNDLE_IMPORT_MS = 150;
export const COLD_START_LIMIT_MS = 600;

export interface SizingRow {
  memory_mb: number;
  billed_avg_ms: number;
  billed_p95_ms: number;
  gb_seconds_per_million: number;
  cold_import_ms: number;
  keeps_p95: boolean;
}

/**
 * Each candidate size for one handler's measured invocations, and the cheapest
 * that keeps p95 within P95_TOLERANCE of `baselineMb` and its cold import under
 * COLD_START_LIMIT_MS.
 */
export function sizeMemory(
  modeled: readonly ModeledInvocation[],
  baselineMb: number,
): { rows: SizingRow[]; pick: number } {
  const p95 = (mb: number) => {
    const sorted = modeled.map((m) => billedMs(m, mb)).sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] ?? 0;
  };
  const limit = p95(baselineMb) * P95_TOLERANCE;
  const rows = MEMORY_CANDIDATES_MB.map((mb) => {
    const total = modeled.reduce((n, m) => n + billedMs(m, mb), 0);
    const coldImport = BUNDLE_IMPORT_MS / Math.min(1, mb / FULL_VCPU_MB);
    return {
      memory_mb: mb,
      billed_avg_ms: Math.round((total / Math.max(1, modeled.length)) * 10) / 10,
      billed_p95_ms: p95(mb),
      gb_seconds_per_million: Math.round(
        ((total / 1000) * (mb / 1024) * 1e6) / Math.max(1, modeled.length),
      ),
      cold_import_ms: Math.round(coldImport),
      keeps_p95: p95(mb) <= limit && coldImport <= COLD_START_LIMIT_MS,
    };
  });
  const kept = rows.filter((r) => r.keeps_p95);
  const cheapest = kept.sort((a, b) => a.gb_seconds_per_million - b.gb_seconds_per_million)[0];
  return { rows, pick: cheapest?.memory_mb ?? baselineMb };
}
