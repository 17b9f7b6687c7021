import * as z from 'zod/mini';
import { continuePurge } from '#domain/purge.ts';
import { sqsConsumer } from '#platform/sqs-consumer.ts';

const purgeRequest = z.object({ room_id: z.string(), up_to_seq: z.nullable(z.number()) });

/** Reclaims a deleted or cleared room's storage, page by page. */
export const handler = sqsConsumer(purgeRequest, (body) => continuePurge(body));
