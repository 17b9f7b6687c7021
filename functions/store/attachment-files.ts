import { DeleteObjectsCommand, PutObjectTaggingCommand, S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import {
  ATTACHMENT_STATE_TAG,
  attachmentObjectKey,
  SENT,
  stateTagging,
  UNSENT,
} from '#platform/attachment-layout.ts';
import { ENV, requireEnv } from '#platform/env.ts';
import { StoreError } from '#platform/errors.ts';
import { type FileAddress, validFor } from './file-requests.ts';

/**
 * The attachment bucket through the S3 client: upload slots (presigned POST),
 * the state tag and deletes. Only the slot route and the attachments queue's
 * consumer load it (the S3 client is the heaviest SDK client); sends and
 * downloads use store/file-requests.ts.
 */
let client: S3Client | undefined;
function s3(): S3Client {
  // A custom endpoint (the local stack's S3, AWS_ENDPOINT_URL_S3) is addressed by path:
  // `<bucket>.127.0.0.1` resolves nowhere. On AWS the default virtual-hosted style is kept.
  client ??= new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3) });
  return client;
}

let bucketName: string | undefined;
const bucket = () => (bucketName ??= requireEnv(ENV.attachmentsBucket));

const keyOf = (file: FileAddress) => attachmentObjectKey(file.room_id, file.id);

/**
 * A browser-form upload that S3 itself holds to the slot: the exact key and
 * content type, at most `maxBytes`, tagged unsent (so the lifecycle rule
 * expires it unless a message claims it), valid `seconds`.
 */
export async function uploadForm(
  file: FileAddress,
  contentType: string,
  maxBytes: number,
  seconds: number,
): Promise<{ url: string; fields: Record<string, string>; expiresInSeconds: number }> {
  const expiresInSeconds = validFor(seconds, (await s3().config.credentials()).expiration);
  const tagging = stateTagging(UNSENT);
  const { url, fields } = await createPresignedPost(s3(), {
    Bucket: bucket(),
    Key: keyOf(file),
    Conditions: [
      ['content-length-range', 1, maxBytes],
      ['eq', '$Content-Type', contentType],
      ['eq', '$tagging', tagging],
    ],
    Fields: { 'Content-Type': contentType, tagging },
    Expires: expiresInSeconds,
  });
  return { url, fields, expiresInSeconds };
}

/**
 * A message carries the file: the lifecycle rule must no longer expire it.
 * A file already gone (released meanwhile) has nothing to keep.
 */
export async function markFileSent(file: FileAddress): Promise<void> {
  try {
    await s3().send(
      new PutObjectTaggingCommand({
        Bucket: bucket(),
        Key: keyOf(file),
        Tagging: { TagSet: [{ Key: ATTACHMENT_STATE_TAG, Value: SENT }] },
      }),
    );
  } catch (error) {
    // S3 answers a missing key 404 NoSuchKey, or 403 to a role that may not list the bucket.
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || status === 403) return;
    throw new StoreError('Tagging a file failed', error);
  }
}

/** Deletes files' bytes (one request per 1,000 keys); a missing key is not an error. */
export async function deleteFiles(files: readonly FileAddress[]): Promise<void> {
  for (let i = 0; i < files.length; i += 1000) {
    const out = await s3().send(
      new DeleteObjectsCommand({
        Bucket: bucket(),
        Delete: { Objects: files.slice(i, i + 1000).map((f) => ({ Key: keyOf(f) })), Quiet: true },
      }),
    );
    if (out.Errors?.length) throw new StoreError(`Deleting ${out.Errors.length} files failed`);
  }
}
