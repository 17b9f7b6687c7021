import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeployedFunction } from '#local/deployed/assembly.ts';
import { policyJudge } from '#local/deployed/policy.ts';
import { FUNCTION_SECRET_ACCESS_KEY, startRecorder } from '#local/deployed/recorder.ts';
import { s3Calls } from '#local/deployed/s3.ts';
import { LOCAL_CREDENTIALS } from '#local/ports.ts';
import { checkPresigned, parseQuery } from '#local/s3-auth.ts';
import { checkPostPolicy, parsePostForm } from '#local/s3-post-policy.ts';
import { S3Error } from '#local/s3-xml.ts';

/**
 * The recorder's S3 proxy (test:deployed): a function's SDK calls, and the
 * browser form and presigned URL it signs for a client, judged as the IAM
 * actions S3 authorizes them by, refused with S3's AccessDenied, and signed
 * again so the local storage (which knows only the local credentials) takes
 * what a function signed. The upstream here checks signatures the way the
 * local storage does (the same checks, with the local credentials).
 */
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const BUCKET = 'files';
const FILES = `arn:aws:s3:::${BUCKET}/rooms/*`;

function fn(logicalId: string, actions: string[], more: object[] = []): DeployedFunction {
  return {
    logicalId,
    handler: logicalId,
    assetDir: '',
    entryFile: 'index.mjs',
    entryExport: 'handler',
    timeoutSeconds: 10,
    memoryMb: 128,
    environment: {},
    policies: [
      {
        name: 'p',
        document: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: '*' },
            ...(actions.length
              ? [{ Effect: 'Allow' as const, Action: actions, Resource: FILES }]
              : []),
            ...(more as never[]),
          ],
        },
      },
    ],
    managedPolicyArns: [],
    eventSourceArns: [],
  };
}

const functions = [
  fn('Uploader', ['s3:PutObject', 's3:PutObjectTagging']),
  fn('UntaggedUploader', ['s3:PutObject']),
  fn('Reader', ['s3:GetObject']),
  fn('Janitor', ['s3:PutObjectTagging', 's3:DeleteObject']),
  fn('NoFiles', []),
  fn(
    'Lister',
    ['s3:GetObject'],
    [{ Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${BUCKET}` }],
  ),
];

describe('S3 requests as IAM sees them', () => {
  const target = (
    method: string,
    key: string,
    search = '',
    extra: { headers?: Record<string, string>; body?: string } = {},
  ) =>
    s3Calls({
      method,
      bucket: BUCKET,
      key,
      query: parseQuery(search),
      headers: extra.headers ?? {},
      body: Buffer.from(extra.body ?? ''),
    });
  const obj = (key: string) => `arn:aws:s3:::${BUCKET}/${key}`;

  it('maps each operation to the action S3 authorizes it by', () => {
    expect(target('HEAD', 'rooms/r/a')).toEqual([
      { action: 's3:GetObject', resource: obj('rooms/r/a') },
    ]);
    expect(target('GET', 'rooms/r/a', '?x-id=GetObject')).toEqual([
      { action: 's3:GetObject', resource: obj('rooms/r/a') },
    ]);
    expect(target('PUT', 'rooms/r/a', '?tagging')).toEqual([
      { action: 's3:PutObjectTagging', resource: obj('rooms/r/a') },
    ]);
    expect(target('PUT', 'rooms/r/a', '', { headers: { 'x-amz-tagging': 'a=b' } })).toEqual([
      { action: 's3:PutObject', resource: obj('rooms/r/a') },
      { action: 's3:PutObjectTagging', resource: obj('rooms/r/a') },
    ]);
    expect(
      target('POST', '', '?delete', {
        body: '<Delete><Object><Key>rooms/r/a</Key></Object><Object><Key>rooms/r/b&amp;c</Key></Object><Quiet>true</Quiet></Delete>',
      }),
    ).toEqual([
      { action: 's3:DeleteObject', resource: obj('rooms/r/a') },
      { action: 's3:DeleteObject', resource: obj('rooms/r/b&c') },
    ]);
    expect(target('GET', '', '?list-type=2&prefix=rooms%2F')).toEqual([
      { action: 's3:ListBucket', resource: `arn:aws:s3:::${BUCKET}` },
    ]);
    // Unmapped operations are named so that no policy grants them.
    expect(target('PUT', 'rooms/r/a', '?acl')[0]?.action).toMatch(/^s3:Unknown/);
  });
});

describe('recorder S3 proxy', () => {
  let upstream: Server;
  let recorder: Awaited<ReturnType<typeof startRecorder>>;
  const seen: { method: string; url: string; body: Buffer }[] = [];

  /** Checks what it is sent the way local/storage.ts does, with the local credentials only. */
  function storage(req: IncomingMessage, body: Buffer): { status: number; body: string } {
    const url = req.url ?? '/';
    const rawPath = url.split('?')[0]!;
    const query = parseQuery(url.slice(rawPath.length));
    const accepted = { credentials: LOCAL_CREDENTIALS, region: REGION };
    try {
      if (req.method === 'POST' && /^multipart\//.test(String(req.headers['content-type']))) {
        const form = parsePostForm(body, String(req.headers['content-type']));
        const upload = checkPostPolicy(form, { bucket: BUCKET, now: new Date(), ...accepted });
        return { status: 204, body: `${upload.key} ${form.file.toString('utf8')}` };
      }
      if (query.some(([n]) => n === 'X-Amz-Signature')) {
        checkPresigned(
          { method: req.method ?? 'GET', rawPath, query, headers: req.headers },
          accepted,
          new Date(),
        );
        if (rawPath.endsWith('/missing')) return { status: 404, body: 'NoSuchKey' };
        return { status: 200, body: 'the bytes' };
      }
      if (query.some(([n]) => n === 'delete'))
        return { status: 200, body: '<DeleteResult></DeleteResult>' };
      if (rawPath.endsWith('/missing')) return { status: 404, body: 'NoSuchKey' };
      return { status: 200, body: '' };
    } catch (error) {
      if (error instanceof S3Error) return { status: error.status, body: error.code };
      throw error;
    }
  }

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        seen.push({ method: req.method ?? '', url: req.url ?? '', body });
        const answer = storage(req, body);
        res.writeHead(answer.status, {
          'content-type': 'text/plain',
          'content-length': Buffer.byteLength(answer.body),
        });
        res.end(req.method === 'HEAD' ? undefined : answer.body);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    recorder = await startRecorder({
      region: REGION,
      account: ACCOUNT,
      judge: policyJudge(functions, ACCOUNT).judge,
      upstream: {
        dynamodb: upstreamUrl,
        sqs: upstreamUrl,
        sns: upstreamUrl,
        connections: upstreamUrl,
        s3: upstreamUrl,
      },
      webSocket: { apiId: 'api1' },
      secrets: {},
      dynamoAccessKeyId: 'local',
    });
  });
  afterAll(async () => {
    await recorder?.stop();
    upstream?.close();
  });

  /** The S3 client a function has in the deployed runtime (functions/store/attachment-files.ts). */
  const client = (logicalId: string) =>
    new S3Client({
      region: REGION,
      endpoint: recorder.endpoints.s3,
      forcePathStyle: true,
      credentials: { accessKeyId: logicalId, secretAccessKey: FUNCTION_SECRET_ACCESS_KEY },
    });
  const last = (n: number) =>
    recorder.calls.slice(-n).map((c) => [c.fn, c.action, c.resource, c.decision]);

  it('refuses a HeadObject from a function with no file grant as S3 does, without forwarding it', async () => {
    const before = seen.length;
    const error = await client('NoFiles')
      .send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'rooms/r/a' }))
      .then(
        () => undefined,
        (e: unknown) => e as { $metadata?: { httpStatusCode?: number } },
      );
    expect(error?.$metadata?.httpStatusCode).toBe(403);
    expect(seen.length).toBe(before);
    expect(last(1)).toEqual([
      ['NoFiles', 's3:GetObject', `arn:aws:s3:::${BUCKET}/rooms/r/a`, 'ImplicitlyDenied'],
    ]);

    const get = await client('NoFiles')
      .send(new GetObjectCommand({ Bucket: BUCKET, Key: 'rooms/r/a' }))
      .catch((e: unknown) => e as Error & { Code?: string });
    expect((get as { name?: string }).name).toBe('AccessDenied');
  });

  it('forwards what the grants allow: HeadObject, PutObjectTagging, DeleteObjects per key', async () => {
    await client('Reader').send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'rooms/r/a' }));
    await client('Janitor').send(
      new PutObjectTaggingCommand({
        Bucket: BUCKET,
        Key: 'rooms/r/a',
        Tagging: { TagSet: [{ Key: 'chat-state', Value: 'sent' }] },
      }),
    );
    await client('Janitor').send(
      new DeleteObjectsCommand({
        Bucket: BUCKET,
        Delete: { Objects: [{ Key: 'rooms/r/a' }, { Key: 'rooms/r/b' }], Quiet: true },
      }),
    );
    expect(last(4)).toEqual([
      ['Reader', 's3:GetObject', `arn:aws:s3:::${BUCKET}/rooms/r/a`, 'Allowed'],
      ['Janitor', 's3:PutObjectTagging', `arn:aws:s3:::${BUCKET}/rooms/r/a`, 'Allowed'],
      ['Janitor', 's3:DeleteObject', `arn:aws:s3:::${BUCKET}/rooms/r/a`, 'Allowed'],
      ['Janitor', 's3:DeleteObject', `arn:aws:s3:::${BUCKET}/rooms/r/b`, 'Allowed'],
    ]);
    // A key outside rooms/ is not granted: S3 deletes the others and reports that one.
    const outside = await client('Janitor').send(
      new DeleteObjectsCommand({
        Bucket: BUCKET,
        Delete: { Objects: [{ Key: 'rooms/r/c' }, { Key: 'other/x' }], Quiet: true },
      }),
    );
    expect(outside.Errors).toEqual([
      { Key: 'other/x', Code: 'AccessDenied', Message: 'Access Denied' },
    ]);
    const forwarded = seen.at(-1)!.body.toString('utf8');
    expect(forwarded).toContain('<Key>rooms/r/c</Key>');
    expect(forwarded).not.toContain('other/x');
    expect(last(2)).toEqual([
      ['Janitor', 's3:DeleteObject', `arn:aws:s3:::${BUCKET}/rooms/r/c`, 'Allowed'],
      ['Janitor', 's3:DeleteObject', `arn:aws:s3:::${BUCKET}/other/x`, 'ImplicitlyDenied'],
    ]);
  });

  it('answers a missing key with 404 only to a caller that may list the bucket, as S3 does', async () => {
    const head = (logicalId: string) =>
      client(logicalId)
        .send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'rooms/r/missing' }))
        .then(
          () => 200,
          (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode,
        );
    expect(await head('Lister')).toBe(404);
    expect(await head('Reader')).toBe(403);
    // The code's call is recorded; S3's own ListBucket question is not (it is no refusal of a call).
    expect(last(1)).toEqual([
      ['Reader', 's3:GetObject', `arn:aws:s3:::${BUCKET}/rooms/r/missing`, 'Allowed'],
    ]);
    // The same for a URL it signed.
    const url = await getSignedUrl(
      client('Reader'),
      new GetObjectCommand({ Bucket: BUCKET, Key: 'rooms/r/missing' }),
      { expiresIn: 60 },
    );
    const res = await fetch(url);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>AccessDenied</Code>');
  });

  const uploadForm = (logicalId: string, key = 'rooms/r/up') =>
    createPresignedPost(client(logicalId), {
      Bucket: BUCKET,
      Key: key,
      Conditions: [
        ['content-length-range', 0, 100],
        ['eq', '$Content-Type', 'image/png'],
      ],
      Fields: {
        'Content-Type': 'image/png',
        tagging:
          '<Tagging><TagSet><Tag><Key>chat-state</Key><Value>unsent</Value></Tag></TagSet></Tagging>',
      },
      Expires: 60,
    });
  const post = (form: { url: string; fields: Record<string, string> }, file = 'png bytes') => {
    const body = new FormData();
    for (const [k, v] of Object.entries(form.fields)) body.append(k, v);
    body.append('file', new Blob([file]), 'x.png');
    return fetch(form.url, { method: 'POST', body });
  };

  it("judges a browser upload as its signer's PutObject and PutObjectTagging, and signs it again for the storage", async () => {
    const form = await uploadForm('Uploader');
    expect(form.url).toBe(`${recorder.endpoints.s3}/${BUCKET}`);
    const res = await post(form);
    expect(res.status).toBe(204);
    expect(last(2)).toEqual([
      ['Uploader', 's3:PutObject', `arn:aws:s3:::${BUCKET}/rooms/r/up`, 'Allowed'],
      ['Uploader', 's3:PutObjectTagging', `arn:aws:s3:::${BUCKET}/rooms/r/up`, 'Allowed'],
    ]);
    // The storage saw a form signed with the local credentials, the file intact.
    const stored = seen.at(-1)!;
    expect(stored.body.toString('utf8')).toContain(`${LOCAL_CREDENTIALS.accessKeyId}/`);
    expect(stored.body.toString('utf8')).toContain('png bytes');
    // The policy still holds the client to the slot: another content type fails at the storage.
    const changed = { ...form, fields: { ...form.fields, 'Content-Type': 'text/html' } };
    expect((await post(changed)).status).toBe(403);
  });

  it('refuses an upload whose form tags the object when the signer may not tag', async () => {
    const before = seen.length;
    const res = await post(await uploadForm('UntaggedUploader'));
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>AccessDenied</Code>');
    expect(seen.length).toBe(before);
    expect(last(1)).toEqual([
      [
        'UntaggedUploader',
        's3:PutObjectTagging',
        `arn:aws:s3:::${BUCKET}/rooms/r/up`,
        'ImplicitlyDenied',
      ],
    ]);
  });

  it("refuses a form whose signature is not the signer's before judging it", async () => {
    const form = await uploadForm('Uploader');
    const calls = recorder.calls.length;
    const res = await post({
      ...form,
      fields: { ...form.fields, 'X-Amz-Signature': '0'.repeat(64) },
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('SignatureDoesNotMatch');
    expect(recorder.calls.length).toBe(calls);
  });

  it("judges a presigned GET as its signer's GetObject, and signs it again for the storage", async () => {
    const command = new GetObjectCommand({
      Bucket: BUCKET,
      Key: 'rooms/r/a',
      ResponseContentDisposition: `attachment; filename*=UTF-8''%C3%9C.png`,
    });
    const url = await getSignedUrl(client('Reader'), command, { expiresIn: 60 });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('the bytes');
    expect(last(1)).toEqual([
      ['Reader', 's3:GetObject', `arn:aws:s3:::${BUCKET}/rooms/r/a`, 'Allowed'],
    ]);
    expect(seen.at(-1)!.url).toContain(`X-Amz-Credential=${LOCAL_CREDENTIALS.accessKeyId}%2F`);

    const refused = await fetch(await getSignedUrl(client('NoFiles'), command, { expiresIn: 60 }));
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('<Code>AccessDenied</Code>');
    expect(last(1)).toEqual([
      ['NoFiles', 's3:GetObject', `arn:aws:s3:::${BUCKET}/rooms/r/a`, 'ImplicitlyDenied'],
    ]);

    // Tampering with what was signed fails as at S3, before any judging.
    const calls = recorder.calls.length;
    const tampered = await fetch(url.replace('rooms/r/a', 'rooms/r/b'));
    expect(tampered.status).toBe(403);
    expect(await tampered.text()).toContain('SignatureDoesNotMatch');
    expect(recorder.calls.length).toBe(calls);
  });
});
