import { createHash, randomBytes } from 'node:crypto';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost, type PresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMessaging } from '#local/messaging.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/ports.ts';
import { LOCAL_ATTACHMENTS_BUCKET, startLocalStorage } from '#local/storage.ts';

/**
 * The local attachments bucket (local/storage.ts): fauxqs's S3 behind a proxy
 * that enforces what S3 enforces and fauxqs does not. Everything goes through
 * the real SDK (presigned POST and GET, tagging) and fetch, as a browser or
 * the app would.
 */
const ORIGIN = 'http://127.0.0.1:3000';
const LIMIT = 1024;
const TAGGING =
  '<Tagging><TagSet><Tag><Key>kind</Key><Value>photo</Value></Tag><Tag><Key>room</Key><Value>r&amp;1</Value></Tag></TagSet></Tagging>';

let messaging: Awaited<ReturnType<typeof startMessaging>>;
let storage: Awaited<ReturnType<typeof startLocalStorage>>;
let s3: S3Client;
beforeAll(async () => {
  // startMessaging: fauxqs pinned to loopback (a bare startFauxqs listens on 0.0.0.0).
  messaging = await startMessaging();
  storage = await startLocalStorage({
    upstream: messaging.server.address,
    create: (bucket) => void messaging.server.createBucket(bucket),
    allowedOrigins: [ORIGIN],
  });
  s3 = new S3Client({
    endpoint: storage.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
  });
});
afterAll(async () => {
  await storage?.stop();
  await messaging?.stop();
});

const Bucket = LOCAL_ATTACHMENTS_BUCKET;
const newKey = (name = 'photo.png') => `rooms/r1/${randomBytes(6).toString('hex')}/${name}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function presignPost(
  Key: string,
  options: {
    max?: number;
    fields?: Record<string, string>;
    conditions?: unknown[];
    expires?: number;
  } = {},
) {
  return createPresignedPost(s3, {
    Bucket,
    Key,
    Conditions: [
      ['content-length-range', 0, options.max ?? LIMIT],
      ['eq', '$Content-Type', 'image/png'],
      ...((options.conditions ?? []) as []),
    ],
    Fields: options.fields ?? { 'Content-Type': 'image/png', tagging: TAGGING },
    Expires: options.expires ?? 60,
  });
}

/** A browser's form upload: the fields first, the file last. */
async function postForm(
  post: PresignedPost,
  file: Uint8Array,
  change: (fields: Record<string, string>) => Record<string, string> = (f) => f,
  filename = 'photo.png',
) {
  const form = new FormData();
  for (const [name, value] of Object.entries(change({ ...post.fields }))) form.append(name, value);
  form.append('file', new Blob([file], { type: 'application/octet-stream' }), filename);
  const res = await fetch(post.url, { method: 'POST', body: form });
  const body = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body,
    code: /<Code>([^<]*)<\/Code>/.exec(body)?.[1],
    message: /<Message>([^<]*)<\/Message>/.exec(body)?.[1],
  };
}

const stored = (Key: string) => s3.send(new HeadObjectCommand({ Bucket, Key }));
const notStored = (Key: string) => expect(stored(Key)).rejects.toMatchObject({ name: 'NotFound' });
const bytesOf = async (Key: string) =>
  Buffer.from(
    await (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToByteArray(),
  );
const tagsOf = async (Key: string) =>
  (await s3.send(new GetObjectTaggingCommand({ Bucket, Key }))).TagSet;

describe('browser uploads (presigned POST)', () => {
  it('stores the exact bytes with the signed content type and tags; tags can be changed', async () => {
    const Key = newKey();
    const file = randomBytes(LIMIT);
    const answer = await postForm(await presignPost(Key), file);
    expect(answer.status).toBe(204);
    expect(answer.headers.get('etag')).toBe(`"${createHash('md5').update(file).digest('hex')}"`);

    const head = await stored(Key);
    expect(head.ContentLength).toBe(LIMIT);
    expect(head.ContentType).toBe('image/png');
    expect((await bytesOf(Key)).equals(file)).toBe(true);
    expect(await tagsOf(Key)).toEqual([
      { Key: 'kind', Value: 'photo' },
      { Key: 'room', Value: 'r&1' },
    ]);
    expect((await s3.send(new GetObjectCommand({ Bucket, Key }))).TagCount).toBe(2);

    await s3.send(
      new PutObjectTaggingCommand({
        Bucket,
        Key,
        Tagging: { TagSet: [{ Key: 'scanned', Value: 'clean' }] },
      }),
    );
    expect(await tagsOf(Key)).toEqual([{ Key: 'scanned', Value: 'clean' }]);
  });

  it('refuses a file one byte over the signed range with EntityTooLarge, and stores nothing', async () => {
    const Key = newKey();
    const answer = await postForm(await presignPost(Key), randomBytes(LIMIT + 1));
    expect(answer).toMatchObject({ status: 400, code: 'EntityTooLarge' });
    expect(answer.body).toContain(`<ProposedSize>${LIMIT + 1}</ProposedSize>`);
    expect(answer.body).toContain(`<MaxSizeAllowed>${LIMIT}</MaxSizeAllowed>`);
    await notStored(Key);
  });

  it('refuses another content type than the signed one, and stores nothing', async () => {
    const Key = newKey();
    const answer = await postForm(await presignPost(Key), randomBytes(10), (f) => ({
      ...f,
      'Content-Type': 'text/html',
    }));
    expect(answer).toMatchObject({ status: 403, code: 'AccessDenied' });
    expect(answer.message).toMatch(/^Invalid according to Policy: Policy Condition failed: \[/);
    await notStored(Key);
  });

  it('refuses a tampered policy and a tampered signature', async () => {
    const Key = newKey();
    const post = await presignPost(Key);
    const policy = JSON.parse(Buffer.from(post.fields.Policy!, 'base64').toString('utf8'));
    policy.conditions[0] = ['content-length-range', 0, 10 * LIMIT];
    const widened = Buffer.from(JSON.stringify(policy)).toString('base64');
    const tampered = await postForm(post, randomBytes(2 * LIMIT), (f) => ({
      ...f,
      Policy: widened,
    }));
    expect(tampered).toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' });

    const signature = post.fields['X-Amz-Signature']!;
    const flipped = (signature[0] === 'a' ? 'b' : 'a') + signature.slice(1);
    const forged = await postForm(post, randomBytes(10), (f) => ({
      ...f,
      'X-Amz-Signature': flipped,
    }));
    expect(forged).toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' });
    await notStored(Key);
  });

  it('refuses an expired policy', async () => {
    const Key = newKey();
    const post = await presignPost(Key, { expires: 1 });
    await sleep(1_100);
    const answer = await postForm(post, randomBytes(10));
    expect(answer).toMatchObject({
      status: 403,
      code: 'AccessDenied',
      message: 'Invalid according to Policy: Policy expired.',
    });
    await notStored(Key);
  });

  it('refuses a field no condition covers (x-ignore-* excepted)', async () => {
    const Key = newKey();
    const post = await presignPost(Key);
    const extra = await postForm(post, randomBytes(10), (f) => ({
      ...f,
      'x-amz-meta-owner': 'mallory',
    }));
    expect(extra).toMatchObject({
      status: 403,
      code: 'AccessDenied',
      message: 'Invalid according to Policy: Extra input fields: x-amz-meta-owner',
    });
    await notStored(Key);
    const ignored = await postForm(post, randomBytes(10), (f) => ({ ...f, 'x-ignore-note': 'ok' }));
    expect(ignored.status).toBe(204);
  });

  it('stores the form field Content-Type whatever its case, and fills in the filename placeholder', async () => {
    const prefix = newKey('');
    const post = await createPresignedPost(s3, {
      Bucket,
      Key: `${prefix}\${filename}`,
      Conditions: [['starts-with', '$content-type', 'image/']],
      Fields: { 'content-type': 'image/jpeg', success_action_status: '201' },
      Expires: 60,
    });
    const answer = await postForm(post, Buffer.from('jpeg bytes'), undefined, 'cat.jpg');
    expect(answer.status).toBe(201);
    expect(answer.body).toContain(`<Key>${prefix}cat.jpg</Key>`);
    expect((await stored(`${prefix}cat.jpg`)).ContentType).toBe('image/jpeg');
  });

  it('takes a 100 MB upload (over fauxqs own body limit) whole', async () => {
    const Key = newKey('video.mp4');
    const size = 100 * 1024 * 1024;
    const file = randomBytes(size);
    const post = await createPresignedPost(s3, {
      Bucket,
      Key,
      Conditions: [['content-length-range', 1, size]],
      Fields: { 'Content-Type': 'video/mp4' },
      Expires: 60,
    });
    const answer = await postForm(post, file);
    expect(answer.status).toBe(204);
    const md5 = createHash('md5').update(file).digest('hex');
    expect(answer.headers.get('etag')).toBe(`"${md5}"`);
    const head = await stored(Key);
    expect([head.ContentLength, head.ContentType, head.ETag]).toEqual([
      size,
      'video/mp4',
      `"${md5}"`,
    ]);
    expect((await bytesOf(Key)).equals(file)).toBe(true);
  }, 120_000);
});

describe('tags', () => {
  it('go with the object: DeleteObject and DeleteObjects clear them, PutObject replaces them', async () => {
    const [one, two] = [newKey(), newKey()];
    for (const Key of [one, two])
      expect((await postForm(await presignPost(Key), randomBytes(10))).status).toBe(204);
    await s3.send(new DeleteObjectCommand({ Bucket, Key: one }));
    await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: two }] } }));
    // Back in fauxqs behind the proxy's back: whatever tags they show are left over.
    for (const Key of [one, two]) {
      const put = await fetch(`${messaging.server.address}/${Bucket}/${Key}`, {
        method: 'PUT',
        body: 'again',
      });
      expect(put.status).toBe(200);
      expect(await tagsOf(Key)).toEqual([]);
    }

    await s3.send(
      new PutObjectCommand({ Bucket, Key: one, Body: 'x', Tagging: 'a=1&b=two%20words' }),
    );
    expect(await tagsOf(one)).toEqual([
      { Key: 'a', Value: '1' },
      { Key: 'b', Value: 'two words' },
    ]);
    await s3.send(new PutObjectCommand({ Bucket, Key: one, Body: 'y' }));
    expect(await tagsOf(one)).toEqual([]);
  });

  it('cannot be set on a missing object', async () => {
    await expect(
      s3.send(
        new PutObjectTaggingCommand({
          Bucket,
          Key: newKey(),
          Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] },
        }),
      ),
    ).rejects.toMatchObject({ name: 'NoSuchKey' });
  });
});

describe('downloads (presigned GET)', () => {
  let Key: string;
  let file: Buffer;
  beforeAll(async () => {
    Key = newKey();
    file = randomBytes(100);
    expect((await postForm(await presignPost(Key), file)).status).toBe(204);
  });
  const disposition = 'attachment; filename="holiday photo.png"';
  const presignGet = (options: { expiresIn?: number; signingDate?: Date } = {}) =>
    getSignedUrl(
      s3,
      new GetObjectCommand({ Bucket, Key, ResponseContentDisposition: disposition }),
      {
        expiresIn: 60,
        ...options,
      },
    );

  it('returns the bytes with the requested Content-Disposition', async () => {
    const res = await fetch(await presignGet());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe(disposition);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await res.arrayBuffer()).equals(file)).toBe(true);
  });

  it('refuses an expired URL', async () => {
    const url = await presignGet({ expiresIn: 60, signingDate: new Date(Date.now() - 61_000) });
    const res = await fetch(url);
    expect(res.status).toBe(403);
    const body = await res.text();
    expect(body).toContain('<Code>AccessDenied</Code>');
    expect(body).toContain('<Message>Request has expired</Message>');
  });

  it('refuses a tampered URL, and one valid for over a week', async () => {
    const url = new URL(await presignGet());
    url.searchParams.set('response-content-disposition', 'inline');
    const tampered = await fetch(url);
    expect(tampered.status).toBe(403);
    expect(await tampered.text()).toContain('<Code>SignatureDoesNotMatch</Code>');

    url.searchParams.set('X-Amz-Expires', '604801');
    const tooLong = await fetch(url);
    expect(tooLong.status).toBe(400);
    expect(await tooLong.text()).toContain('<Code>AuthorizationQueryParametersError</Code>');
  });

  it('refuses an unsigned GET (the bucket is private)', async () => {
    const res = await fetch(`${storage.endpoint}/${Bucket}/${Key}`);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>AccessDenied</Code>');
  });
});

describe('CORS', () => {
  const preflight = (origin: string, method = 'POST') =>
    fetch(`${storage.endpoint}/${Bucket}`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': method,
        'access-control-request-headers': 'content-type',
      },
    });

  it('answers a preflight from an allowed origin, as the deployed bucket rule does', async () => {
    const res = await preflight(ORIGIN);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, HEAD, POST');
    expect(res.headers.get('access-control-allow-headers')).toBe('content-type');
    expect(res.headers.get('access-control-max-age')).toBe('3000');
    expect(res.headers.get('access-control-expose-headers')).toBe('ETag');
  });

  it('refuses a preflight from another origin, or for another method', async () => {
    for (const res of [
      await preflight('https://evil.example'),
      await preflight(ORIGIN, 'DELETE'),
    ]) {
      expect(res.status).toBe(403);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(await res.text()).toContain('<Code>AccessForbidden</Code>');
    }
  });

  it('lets an allowed origin read answers and their ETag, and no other origin', async () => {
    const Key = newKey();
    const post = await presignPost(Key);
    const form = new FormData();
    for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
    form.append('file', new Blob([randomBytes(10)]), 'photo.png');
    const res = await fetch(post.url, { method: 'POST', body: form, headers: { origin: ORIGIN } });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(res.headers.get('access-control-expose-headers')).toBe('ETag');

    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key }), { expiresIn: 60 });
    const other = await fetch(url, { headers: { origin: 'https://evil.example' } });
    expect(other.status).toBe(200);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
