/**
 * Input schemas. zod/mini rather than classic zod: the same engine and error
 * issues, but tree-shakeable — classic zod alone would add ~440 KB to every
 * Lambda bundle.
 */
import * as z from 'zod/mini';
import { LIMITS } from '#platform/limits.ts';

/** Ids are opaque; this bounds their shape so keys stay well-formed. */
export const userId = z
  .string()
  .check(
    z.trim(),
    z.minLength(1),
    z.maxLength(128),
    z.regex(/^[^#\s]+$/, 'must not contain # or spaces'),
  );
export const roomId = z
  .string()
  .check(z.minLength(1), z.maxLength(64), z.regex(/^[0-9A-Za-z_-]+$/, 'is not a room id'));
export const messageId = z.string().check(z.minLength(3), z.maxLength(80));

const pageLimit = z._default(
  z.coerce.number().check(z.int(), z.minimum(1), z.maximum(LIMITS.pageSizeMax)),
  LIMITS.pageSizeDefault,
);

export const createRoomBody = z.discriminatedUnion('type', [
  z.object({ type: z.literal('direct'), member_ids: z.array(userId).check(z.length(1)) }),
  z.object({
    type: z.literal('group'),
    name: z.string().check(z.trim(), z.minLength(1), z.maxLength(200)),
    member_ids: z._default(z.array(userId).check(z.maxLength(LIMITS.groupMembers - 1)), []),
  }),
]);
export type CreateRoomInput = z.infer<typeof createRoomBody>;

export const listRoomsQuery = z.object({
  archived: z.pipe(
    z._default(z.enum(['true', 'false']), 'false'),
    z.transform((v) => v === 'true'),
  ),
  limit: pageLimit,
  cursor: z.optional(z.string().check(z.maxLength(2048))),
});

export const roomParams = z.object({ room_id: roomId });
export const memberParams = z.object({ room_id: roomId, user_id: userId });
export const messageParams = z.object({ message_id: messageId });

export const addMembersBody = z.object({
  user_ids: z.array(userId).check(z.minLength(1), z.maxLength(100)),
});

export const listMessagesQuery = z.object({
  limit: pageLimit,
  before: z.optional(messageId),
});

const sendFields = {
  content: z._default(z.string().check(z.maxLength(LIMITS.contentChars)), ''),
  temp_id: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  message_type: z._default(z.string().check(z.minLength(1), z.maxLength(32)), 'text'),
  reply_to_message_id: z.nullish(messageId),
  file_url: z.nullish(z.url().check(z.maxLength(2048))),
  media: z.optional(z.unknown()),
  is_encrypted: z._default(z.boolean(), false),
  encryption_key_id: z.nullish(z.string().check(z.minLength(1), z.maxLength(255))),
  encrypted_content: z.nullish(z.string().check(z.maxLength(LIMITS.bodyBytes))),
};

type SendFields = z.infer<z.ZodMiniObject<typeof sendFields>>;

function checkSendRules(
  body: SendFields,
  ctx: {
    addIssue: (issue: {
      code: 'custom';
      message: string;
      path?: PropertyKey[];
      input: unknown;
    }) => void;
  },
) {
  if (body.is_encrypted) {
    if (!body.encrypted_content || !body.encryption_key_id) {
      ctx.addIssue({
        code: 'custom',
        input: body,
        message: 'encrypted messages need encrypted_content and encryption_key_id',
      });
    }
    if (body.content !== '') {
      ctx.addIssue({
        code: 'custom',
        input: body,
        path: ['content'],
        message: 'must be empty for encrypted messages',
      });
    }
  } else if (body.content.trim() === '' && !body.file_url && body.media === undefined) {
    ctx.addIssue({
      code: 'custom',
      input: body,
      path: ['content'],
      message: 'a message needs content, file_url or media',
    });
  }
}

/** The send-message body, shared by HTTP and the WebSocket action. */
export const sendMessageBody = z.object(sendFields).check(z.superRefine(checkSendRules));
export type SendMessageInput = z.infer<typeof sendMessageBody>;

export const wsSendMessage = z
  .object({ room_id: roomId, ...sendFields })
  .check(z.superRefine(checkSendRules));

export const markSeenFrame = z.object({
  room_id: roomId,
  message_ids: z.array(messageId).check(z.minLength(1), z.maxLength(LIMITS.seenIdsMax)),
});

export const archiveBody = z.object({ is_archived: z.boolean() });
export const roomArchiveFrame = z.object({ room_id: roomId, is_archived: z.boolean() });

export const registerDeviceBody = z.object({
  platform: z.enum(['apns', 'fcm']),
  token: z.string().check(z.minLength(8), z.maxLength(4096)),
});
export const deviceParams = z.object({
  device_id: z.string().check(z.regex(/^[0-9a-f]{32}$/, 'is not a device id')),
});

const booleanString = z.pipe(
  z._default(z.enum(['true', 'false']), 'false'),
  z.transform((v) => v === 'true'),
);

export const clearMessagesQuery = z.object({ for_everyone: booleanString });

export const muteBody = z.object({
  is_muted: z.boolean(),
  muted_until: z.nullish(z.iso.datetime({ offset: true })),
});

export const unreadCountQuery = z.object({ room_id: z.optional(roomId) });

export const readStatusBody = z.object({
  is_read: z.boolean(),
  last_read_message_id: z.nullish(messageId),
});

export const batchReadBody = z.object({
  room_ids: z.array(roomId).check(z.minLength(1), z.maxLength(LIMITS.batchReadRooms)),
});

export const forwardBody = z.object({
  target_room_ids: z.array(roomId).check(z.minLength(1), z.maxLength(LIMITS.forwardTargets)),
});

const keyPart = z
  .string()
  .check(z.minLength(1), z.maxLength(255), z.regex(/^[^#\s]+$/, 'must not contain # or spaces'));

export const uploadKeyBody = z.object({
  public_key: z.string().check(z.minLength(1), z.maxLength(LIMITS.publicKeyBytes)),
  device_id: keyPart,
  key_id: keyPart,
  expires_at: z.nullish(z.iso.datetime({ offset: true })),
});

export const keyOwnerParams = z.object({ user_id: userId });

export const verifyKeyBody = z.object({
  user_id: userId,
  key_id: keyPart,
  fingerprint: z.string().check(z.minLength(1), z.maxLength(200)),
});
