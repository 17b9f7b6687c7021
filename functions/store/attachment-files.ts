import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  ATTACHMENT_STATE_TAG,
  attachmentObjectKey,
  SENT,
  stateTagging,
  UNSENT,
} from '#platform/attachment-layout.ts';
import { ENV, requireEnv } from '#platform/env.ts';
import { StoreError } from '#platform/errors.ts';

/**
 * The attachment bucket: upload slots, the stored size, download URLs, the
 * state tag and deletes. Only the functions that need files load this module
 * (the S3 client is the heaviest SDK client).
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

export interface FileAddress {
  room_id: string;
  id: string;
}

const keyOf = (file: FileAddress) => attachmentObjectKey(file.room_id, file.id);

/**
 * How long a URL signed now stays good: `wanted`, or less when the function's
 * own credentials (a Lambda role's session) expire sooner, since a signed URL
 * dies with them. A minute of margin.
 */
async function validSeconds(wanted: number): Promise<number> {
  const credentials = await s3().config.credentials();
  if (!credentials.expiration) return wanted;
  const left = Math.floor((credentials.expiration.getTime() - Date.now()) / 1000) - 60;
  return Math.max(60, Math.min(wanted, left));
}

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
  const expiresInSeconds = await validSeconds(seconds);
  const tagging = stateTagging(UNSENT);
  const { url, fields } = await createPresignedPost(s3(), {
    Bucket: bucket(),
    Key: keyOf(file),
    Conditions: [
      ['content-length-range', 0, maxBytes],
      ['eq', '$Content-Type', contentType],
      ['eq', '$tagging', tagging],
    ],
    Fields: { 'Content-Type': contentType, tagging },
    Expires: expiresInSeconds,
  });
  return { url, fields, expiresInSeconds };
}

/** What storage holds for a file: its size in bytes, or undefined when nothing was uploaded. */
export async function storedSize(file: FileAddress): Promise<number | undefined> {
  try {
    const head = await s3().send(new HeadObjectCommand({ Bucket: bucket(), Key: keyOf(file) }));
    return head.ContentLength ?? 0;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (error as Error).name === 'NotFound') return undefined;
    throw new StoreError('Reading a file from storage failed', error);
  }
}

/** `attachment; filename=…`, with an ASCII fallback and the UTF-8 name (RFC 6266). */
export function contentDisposition(fileName: string | null): string {
  if (!fileName) return 'attachment';
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

/** A GET URL for a file, valid at most `seconds`. */
export async function downloadUrl(
  file: FileAddress,
  fileName: string | null,
  contentType: string,
  seconds: number,
): Promise<{ url: string; expiresInSeconds: number }> {
  const expiresInSeconds = await validSeconds(seconds);
  const url = await getSignedUrl(
    s3(),
    new GetObjectCommand({
      Bucket: bucket(),
      Key: keyOf(file),
      ResponseContentDisposition: contentDisposition(fileName),
      ResponseContentType: contentType,
    }),
    { expiresIn: expiresInSeconds },
  );
  return { url, expiresInSeconds };
}

/** A message carries the file: the lifecycle rule must no longer expire it. */
export async function markFileSent(file: FileAddress): Promise<void> {
  await s3().send(
    new PutObjectTaggingCommand({
      Bucket: bucket(),
      Key: keyOf(file),
      Tagging: { TagSet: [{ Key: ATTACHMENT_STATE_TAG, Value: SENT }] },
    }),
  );
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
