import * as z from 'zod/mini';
import { fillGap } from '#domain/room-activity.ts';
import { sqsConsumer } from '#platform/sqs-consumer.ts';

const takenNumber = z.object({ room_id: z.string(), seq: z.number() });

/** A number a send took and never stored, looked at again after a delay: filled if still empty. */
export const handler = sqsConsumer(takenNumber, (gap) => fillGap(gap));
