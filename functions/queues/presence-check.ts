import * as z from 'zod/mini';
import { checkOffline } from '#domain/presence.ts';
import { sqsConsumer } from '#platform/sqs-consumer.ts';

const presenceCheck = z.object({ user_id: z.string(), due_at: z.string() });

/** The precise end of a grace period (SQS DelaySeconds); the sweeper is the backstop. */
export const handler = sqsConsumer(presenceCheck, (body) => checkOffline(body));
