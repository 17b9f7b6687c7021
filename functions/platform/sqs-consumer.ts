import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import type * as z from 'zod/mini';
import { logger } from './observability.ts';

/**
 * An SQS consumer over Powertools batch: each record's body is validated, then
 * handled; a failed record is reported alone (partial batch response) and comes
 * back after the visibility timeout, then goes to the DLQ. A body that can never
 * parse is logged and dropped rather than retried forever.
 */
export function sqsConsumer<T>(
  schema: z.ZodMiniType<T>,
  handle: (body: T, record: SQSRecord) => Promise<unknown>,
) {
  const processor = new BatchProcessor(EventType.SQS);
  const onRecord = async (record: SQSRecord) => {
    let json: unknown;
    try {
      json = JSON.parse(record.body);
    } catch {
      json = undefined;
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      logger.error('Dropping malformed queue message', { messageId: record.messageId });
      return;
    }
    await handle(parsed.data, record);
  };
  return async (event: SQSEvent, context: Context) =>
    processPartialResponse(event, onRecord, processor, { context, throwOnFullBatchFailure: false });
}
