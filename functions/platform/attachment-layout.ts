/**
 * Where attachment files live in the bucket, declared once for the functions,
 * the CDK stack (IAM resources, lifecycle rules) and the local stack.
 *
 * Key: `rooms/<room_id>/<attachment_id>`. The attachment id is a ULID (80
 * random bits), so keys cannot be guessed; the room prefix scopes them, and
 * no key ever holds a user's file name (that travels as Content-Disposition).
 */
export const ATTACHMENT_KEY_PREFIX = 'rooms/';

export const attachmentObjectKey = (roomId: string, attachmentId: string) =>
  `${ATTACHMENT_KEY_PREFIX}${roomId}/${attachmentId}`;

/**
 * The object tag that tells the bucket's lifecycle rule what to expire. An
 * upload is tagged `unsent` by its own POST policy; once a message carries it
 * the attachments queue retags it `sent`. The rule expires `unsent` objects
 * after a day: an upload nobody sent goes by itself, with no scan and no
 * per-object work.
 */
export const ATTACHMENT_STATE_TAG = 'chat-state';
export const UNSENT = 'unsent';
export const SENT = 'sent';

/** The `tagging` form field (and PutObjectTagging body) for one state. */
export const stateTagging = (state: typeof UNSENT | typeof SENT) =>
  `<Tagging><TagSet><Tag><Key>${ATTACHMENT_STATE_TAG}</Key><Value>${state}</Value></Tag></TagSet></Tagging>`;

/** Days after which the lifecycle rule expires an unsent upload (CONTRACT §8: within a day). */
export const UNSENT_EXPIRY_DAYS = 1;
