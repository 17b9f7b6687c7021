import { z } from 'zod';
import { LIMITS } from '#platform/limits.ts';

/** Ids are opaque; this bounds their shape so keys stay well-formed. */
export const userId = z
  .string()
  .trim()
  .min(1)
  .max(128)
  .regex(/^[^#\s]+$/, 'must not contain # or spaces');
export const roomId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[0-9A-Za-z_-]+$/, 'is not a room id');
export const messageId = z.string().min(3).max(80);

const pageLimit = z.coerce
  .number()
  .int()
  .min(1)
  .max(LIMITS.pageSizeMax)
  .default(LIMITS.pageSizeDefault);

export const createRoomBody = z.discriminatedUnion('type', [
  z.object({ type: z.literal('direct'), member_ids: z.array(userId).length(1) }),
  z.object({
    type: z.literal('group'),
    name: z.string().trim().min(1).max(200),
    member_ids: z
      .array(userId)
      .max(LIMITS.groupMembers - 1)
      .default([]),
  }),
]);
export type CreateRoomInput = z.infer<typeof createRoomBody>;

export const listRoomsQuery = z.object({
  archived: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  limit: pageLimit,
  cursor: z.string().max(2048).optional(),
});

export const roomParams = z.object({ room_id: roomId });
export const memberParams = z.object({ room_id: roomId, user_id: userId });
export const messageParams = z.object({ message_id: messageId });

export const addMembersBody = z.object({
  user_ids: z.array(userId).min(1).max(100),
});

export const listMessagesQuery = z.object({
  limit: pageLimit,
  before: messageId.optional(),
});

/** The send-message body, shared by HTTP and the WebSocket action. */
export const sendMessageBody = z
  .object({
    content: z.string().max(LIMITS.contentChars).default(''),
    temp_id: z.string().min(1).max(128).optional(),
    message_type: z.string().min(1).max(32).default('text'),
    reply_to_message_id: messageId.nullish(),
    file_url: z.string().url().max(2048).nullish(),
    media: z.unknown().optional(),
    is_encrypted: z.boolean().default(false),
    encryption_key_id: z.string().min(1).max(255).nullish(),
    encrypted_content: z.string().max(LIMITS.bodyBytes).nullish(),
  })
  .superRefine((body, ctx) => {
    if (body.is_encrypted) {
      if (!body.encrypted_content || !body.encryption_key_id) {
        ctx.addIssue({
          code: 'custom',
          message: 'encrypted messages need encrypted_content and encryption_key_id',
        });
      }
      if (body.content !== '') {
        ctx.addIssue({
          code: 'custom',
          path: ['content'],
          message: 'must be empty for encrypted messages',
        });
      }
    } else if (body.content.trim() === '' && !body.file_url && body.media === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['content'],
        message: 'a message needs content, file_url or media',
      });
    }
  });
export type SendMessageInput = z.infer<typeof sendMessageBody>;

export const wsSendMessage = z.object({ room_id: roomId }).and(sendMessageBody);
