import * as z from 'zod/mini';
import { acceptOfflineDelivery } from '#domain/offline-delivery.ts';
import type { MessageView } from '#domain/views.ts';
import { sqsConsumer } from '#platform/sqs-consumer.ts';

const offlineDelivery = z.object({
  user_id: z.string(),
  message: z.custom<MessageView>(
    (m) => typeof m === 'object' && m !== null && typeof (m as MessageView).id === 'string',
  ),
});

/** Offline members: keep the message pending for them, and push. */
export const handler = sqsConsumer(offlineDelivery, (body, record) =>
  acceptOfflineDelivery(body, record.messageId),
);
