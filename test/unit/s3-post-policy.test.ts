import { createHmac } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { describe, expect, it } from 'vitest';
import { checkPresigned, parseQuery } from '#local/s3-auth.ts';
import { checkPostPolicy, type PostForm, parsePostForm } from '#local/s3-post-policy.ts';
import {
  deletedKeys,
  parseTagging,
  parseTaggingHeader,
  S3Error,
  taggingXml,
} from '#local/s3-xml.ts';

/**
 * The pure checks behind the local attachments bucket (local/storage.ts):
 * S3's SigV4 POST policy, presigned URLs, the multipart form and the tag set.
 * Signatures are made here independently (node:crypto, the AWS SDK, and the
 * S3 documentation's own example), never with the code under test.
 */
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const region = 'us-east-1';
const DAY = '20300101';
const NOW = new Date('2030-01-01T12:00:00Z');
const accepted = { credentials, region };

const hmac = (key: Buffer | string, data: string) =>
  createHmac('sha256', key).update(data).digest();
function sign(policy: string, date = DAY, secret = credentials.secretAccessKey) {
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), 's3'), 'aws4_request');
  return hmac(key, policy).toString('hex');
}

const credential = `local/${DAY}/${region}/s3/aws4_request`;
const authFields = {
  'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
  'X-Amz-Credential': credential,
  'X-Amz-Date': `${DAY}T000000Z`,
};
const authConditions = Object.entries(authFields).map(([k, v]) => ({ [k]: v }));

/** A form signed for `conditions` (expiring at 13:00 on NOW's day), with `fields` on top. */
function signedForm(
  conditions: unknown[],
  fields: Record<string, string> = {},
  options: { file?: Buffer; filename?: string; expiration?: string; policy?: string } = {},
): PostForm {
  const policy =
    options.policy ??
    Buffer.from(
      JSON.stringify({
        expiration: options.expiration ?? '2030-01-01T13:00:00.000Z',
        conditions: [...authConditions, ...conditions],
      }),
    ).toString('base64');
  const all = { key: 'a/photo.png', ...authFields, ...fields, Policy: policy };
  return {
    fields: Object.entries({ ...all, 'X-Amz-Signature': sign(policy) }).map(([name, value]) => ({
      name,
      value,
    })),
    file: options.file ?? Buffer.alloc(10),
    filename: options.filename ?? 'photo.png',
  };
}

const check = (form: PostForm, bucket = 'chat-attachments', now = NOW) =>
  checkPostPolicy(form, { bucket, now, ...accepted });

/** The S3Error `run` throws, as {status, code, message}. */
function refusal(run: () => unknown) {
  try {
    run();
  } catch (error) {
    if (!(error instanceof S3Error)) throw error;
    return { status: error.status, code: error.code, message: error.message, extra: error.extra };
  }
  throw new Error('accepted');
}

const basic = [{ bucket: 'chat-attachments' }, { key: 'a/photo.png' }];

describe('POST policy: signature and expiry', () => {
  it("accepts the AWS SDK's own presigned POST, until it expires", async () => {
    const client = new S3Client({
      region,
      credentials,
      endpoint: 'http://127.0.0.1:1',
      forcePathStyle: true,
    });
    const post = await createPresignedPost(client, {
      Bucket: 'chat-attachments',
      Key: 'rooms/r1/photo.png',
      Conditions: [['content-length-range', 0, 100]],
      Fields: { 'Content-Type': 'image/png' },
      Expires: 60,
    });
    const form: PostForm = {
      fields: Object.entries(post.fields).map(([name, value]) => ({ name, value })),
      file: Buffer.alloc(100),
      filename: 'x.png',
    };
    const upload = check(form, 'chat-attachments', new Date());
    expect(upload.key).toBe('rooms/r1/photo.png');
    expect(upload.fields.get('content-type')).toBe('image/png');
    expect(refusal(() => check(form, 'chat-attachments', new Date(Date.now() + 61_000)))).toEqual({
      status: 403,
      code: 'AccessDenied',
      message: 'Invalid according to Policy: Policy expired.',
      extra: {},
    });
    expect(refusal(() => check(form, 'other-bucket', new Date()))).toMatchObject({
      status: 403,
      message:
        'Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "chat-attachments"]',
    });
  });

  it('refuses a changed policy, a wrong signature, key or secret', () => {
    const form = signedForm(basic);
    const policy = form.fields.find((f) => f.name === 'Policy')!;
    const changed = Buffer.from(policy.value, 'base64').toString().replace('13:00', '23:00');
    policy.value = Buffer.from(changed).toString('base64');
    expect(refusal(() => check(form))).toMatchObject({
      status: 403,
      code: 'SignatureDoesNotMatch',
    });

    const other = signedForm(basic);
    other.fields.find((f) => f.name === 'X-Amz-Signature')!.value = sign('something else');
    expect(refusal(() => check(other))).toMatchObject({
      status: 403,
      code: 'SignatureDoesNotMatch',
    });

    const wrongKey = signedForm(basic, {
      'X-Amz-Credential': credential.replace('local/', 'AKIDOTHER/'),
    });
    expect(refusal(() => check(wrongKey))).toMatchObject({
      status: 403,
      code: 'InvalidAccessKeyId',
    });

    const wrongRegion = signedForm(basic, {
      'X-Amz-Credential': credential.replace(region, 'eu-west-1'),
    });
    expect(refusal(() => check(wrongRegion))).toMatchObject({
      status: 400,
      code: 'InvalidArgument',
    });

    const secret = signedForm(basic);
    secret.fields.find((f) => f.name === 'X-Amz-Signature')!.value = sign(
      secret.fields.find((f) => f.name === 'Policy')!.value,
      DAY,
      'not-the-secret',
    );
    expect(refusal(() => check(secret))).toMatchObject({ code: 'SignatureDoesNotMatch' });
  });

  it('expires at the expiration instant', () => {
    const form = signedForm(basic, {}, { expiration: '2030-01-01T12:00:00Z' });
    expect(refusal(() => check(form, undefined, new Date('2030-01-01T12:00:00Z')))).toMatchObject({
      message: 'Invalid according to Policy: Policy expired.',
    });
    expect(check(form, undefined, new Date('2030-01-01T11:59:59.999Z')).key).toBe('a/photo.png');
  });

  it('needs a key, a policy and every SigV4 field, and a well-formed policy', () => {
    const noKey = signedForm(basic);
    noKey.fields = noKey.fields.filter((f) => f.name !== 'key');
    expect(refusal(() => check(noKey))).toMatchObject({ status: 400, code: 'InvalidArgument' });
    const anonymous = signedForm(basic);
    anonymous.fields = anonymous.fields.filter((f) => f.name !== 'Policy');
    expect(refusal(() => check(anonymous))).toMatchObject({ status: 403, code: 'AccessDenied' });
    for (const missing of [
      'X-Amz-Signature',
      'X-Amz-Credential',
      'X-Amz-Date',
      'X-Amz-Algorithm',
    ]) {
      const form = signedForm(basic);
      form.fields = form.fields.filter((f) => f.name !== missing);
      expect(refusal(() => check(form))).toMatchObject({
        status: 400,
        code: 'InvalidArgument',
        message: `Bucket POST must contain a field named '${missing}'.  If it is specified, please check the order of the fields.`,
      });
    }
    const notJson = signedForm(
      [],
      {},
      { policy: Buffer.from('{"expiration":').toString('base64') },
    );
    expect(refusal(() => check(notJson))).toMatchObject({
      status: 400,
      code: 'InvalidPolicyDocument',
    });
    const twoInOne = signedForm([{ key: 'a/photo.png', bucket: 'chat-attachments' }]);
    expect(refusal(() => check(twoInOne))).toMatchObject({ code: 'InvalidPolicyDocument' });
    const unknownOp = signedForm([...basic, ['matches', '$key', 'a']]);
    expect(refusal(() => check(unknownOp))).toMatchObject({ code: 'InvalidPolicyDocument' });
  });
});

describe('POST policy: conditions', () => {
  it('checks the file size against content-length-range, both ends inclusive', () => {
    const range = [...basic, ['content-length-range', 10, 20]];
    for (const size of [10, 20])
      expect(check(signedForm(range, {}, { file: Buffer.alloc(size) })).key).toBeTruthy();
    expect(refusal(() => check(signedForm(range, {}, { file: Buffer.alloc(21) })))).toEqual({
      status: 400,
      code: 'EntityTooLarge',
      message: 'Your proposed upload exceeds the maximum allowed size',
      extra: { ProposedSize: 21, MaxSizeAllowed: 20 },
    });
    expect(refusal(() => check(signedForm(range, {}, { file: Buffer.alloc(9) })))).toEqual({
      status: 400,
      code: 'EntityTooSmall',
      message: 'Your proposed upload is smaller than the minimum allowed size',
      extra: { ProposedSize: 9, MinSizeAllowed: 10 },
    });
  });

  it('matches exact values case-sensitively, field names in any case', () => {
    const conditions = [...basic, ['eq', '$Content-Type', 'image/png']];
    expect(
      check(signedForm(conditions, { 'content-type': 'image/png' })).fields.get('content-type'),
    ).toBe('image/png');
    expect(
      refusal(() => check(signedForm(conditions, { 'Content-Type': 'image/PNG' }))),
    ).toMatchObject({
      status: 403,
      code: 'AccessDenied',
      message:
        'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "image/png"]',
    });
    const simple = [...basic, { 'Content-Type': 'image/png' }];
    expect(refusal(() => check(signedForm(simple, { 'Content-Type': 'text/html' })))).toMatchObject(
      {
        message:
          'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "image/png"]',
      },
    );
    // A condition on a field the form lacks compares with nothing.
    expect(refusal(() => check(signedForm(conditions)))).toMatchObject({ code: 'AccessDenied' });
  });

  it('matches starts-with (each of a Content-Type list), where S3 allows it', () => {
    const prefix = [
      { bucket: 'chat-attachments' },
      ['starts-with', '$key', 'a/'],
      ['starts-with', '$Content-Type', 'image/'],
    ];
    expect(check(signedForm(prefix, { 'Content-Type': 'image/png, image/jpeg' })).key).toBe(
      'a/photo.png',
    );
    expect(
      refusal(() => check(signedForm(prefix, { 'Content-Type': 'image/png,text/html' }))),
    ).toMatchObject({
      message:
        'Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", "image/"]',
    });
    expect(
      refusal(() => check(signedForm(prefix, { key: 'b/photo.png', 'Content-Type': 'image/png' }))),
    ).toMatchObject({
      message:
        'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "a/"]',
    });
    const anything = [...basic, ['starts-with', '$x-amz-meta-note', '']];
    expect(check(signedForm(anything, { 'x-amz-meta-note': 'whatever' })).key).toBe('a/photo.png');
    // bucket, success_action_status and x-amz-* (but x-amz-meta-*) are exact matches only.
    for (const [field, value] of [
      ['bucket', 'chat-attachments'],
      ['success_action_status', '201'],
      ['x-amz-server-side-encryption', 'AES256'],
    ] as const) {
      const form = signedForm(
        [...basic, ['starts-with', `$${field}`, '']],
        field === 'bucket' ? {} : { [field]: value },
      );
      expect(refusal(() => check(form))).toMatchObject({ status: 403, code: 'AccessDenied' });
    }
  });

  it('fills in the filename placeholder (without its path) before checking the key', () => {
    const conditions = [{ bucket: 'chat-attachments' }, ['starts-with', '$key', 'up/']];
    // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's placeholder, not a template.
    const form = signedForm(conditions, { key: 'up/${filename}' }, { filename: 'cat.png' });
    expect(check(form).key).toBe('up/cat.png');
    expect(check(form).fields.get('key')).toBe('up/cat.png');
  });

  it('refuses any field no condition names, but policy, signature and x-ignore-*', () => {
    expect(check(signedForm(basic, { 'x-ignore-a': '1', 'X-Ignore-B': '2' })).key).toBe(
      'a/photo.png',
    );
    expect(
      refusal(() => check(signedForm(basic, { acl: 'public-read', 'x-amz-meta-a': 'b' }))),
    ).toEqual({
      status: 403,
      code: 'AccessDenied',
      message: 'Invalid according to Policy: Extra input fields: acl, x-amz-meta-a',
      extra: {},
    });
    // An SDK form also sends `bucket`; the bucket condition covers it.
    expect(check(signedForm(basic, { bucket: 'chat-attachments' })).key).toBe('a/photo.png');
    const twice = signedForm(basic);
    twice.fields.push({ name: 'KEY', value: 'other' });
    expect(refusal(() => check(twice))).toMatchObject({ status: 400, code: 'InvalidArgument' });
  });

  it('reads the tagging field as the tag set, refusing what S3 refuses', () => {
    const withTags = (tagging: string) => signedForm([...basic, { tagging }], { tagging });
    expect(
      check(
        withTags(
          '<Tagging><TagSet><Tag><Key>a</Key><Value>1 &lt; 2</Value></Tag></TagSet></Tagging>',
        ),
      ).tags,
    ).toEqual([{ Key: 'a', Value: '1 < 2' }]);
    expect(check(signedForm(basic)).tags).toBeUndefined();
    expect(
      refusal(() => check(withTags('<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>'))),
    ).toMatchObject({
      status: 400,
      code: 'MalformedXML',
    });
  });
});

describe('the multipart form', () => {
  const boundary = '----b0undary';
  const part = (name: string, value: string, filename?: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename === undefined ? '' : `; filename="${filename}"`}\r\n${filename === undefined ? '' : 'Content-Type: image/png\r\n'}\r\n${value}\r\n`;
  const type = `multipart/form-data; boundary=${boundary}`;

  it('gives the fields before the file, and the file without its path; ignores what follows it', () => {
    const body = Buffer.from(
      part('key', 'k') +
        part('Content-Type', 'image/png') +
        part('file', 'bytes\r\n--not-the-boundary', 'C:\\pics\\cat.png') +
        part('after', 'x') +
        `--${boundary}--\r\n`,
    );
    const form = parsePostForm(body, type);
    expect(form.fields).toEqual([
      { name: 'key', value: 'k' },
      { name: 'Content-Type', value: 'image/png' },
    ]);
    expect(form.file.toString()).toBe('bytes\r\n--not-the-boundary');
    expect(form.filename).toBe('cat.png');
    // A view into the body, not a copy.
    expect(form.file.buffer).toBe(body.buffer);
  });

  it('is exactly what fetch sends for a FormData', async () => {
    const data = new FormData();
    data.append('key', 'k');
    data.append('x-amz-meta-név', 'é "quoted"');
    data.append('file', new Blob([new Uint8Array([0, 13, 10, 45, 45, 255])]), 'a.bin');
    const request = new Request('http://x/', { method: 'POST', body: data });
    const form = parsePostForm(
      Buffer.from(await request.arrayBuffer()),
      request.headers.get('content-type')!,
    );
    expect(form.fields).toEqual([
      { name: 'key', value: 'k' },
      { name: 'x-amz-meta-név', value: 'é "quoted"' },
    ]);
    expect([...form.file]).toEqual([0, 13, 10, 45, 45, 255]);
  });

  it('refuses a form without a file, with two files, or not multipart at all', () => {
    const noFile = Buffer.from(`${part('key', 'k')}--${boundary}--\r\n`);
    expect(refusal(() => parsePostForm(noFile, type))).toMatchObject({
      status: 400,
      code: 'InvalidArgument',
    });
    const twoFiles = Buffer.from(
      [part('other', 'x', 'a.png'), part('file', 'y', 'b.png'), `--${boundary}--\r\n`].join(''),
    );
    expect(refusal(() => parsePostForm(twoFiles, type))).toMatchObject({ code: 'InvalidArgument' });
    expect(refusal(() => parsePostForm(Buffer.from('key=k'), type))).toMatchObject({
      status: 400,
      code: 'MalformedPOSTRequest',
    });
    expect(refusal(() => parsePostForm(noFile, 'multipart/form-data'))).toMatchObject({
      code: 'MalformedPOSTRequest',
    });
  });
});

describe('presigned URLs', () => {
  // The S3 API Reference's example ("Authenticating Requests: Using Query Parameters").
  const example = {
    credentials: {
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    },
    region: 'us-east-1',
  };
  const query =
    '?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
  const request = (search = query, method = 'GET') => ({
    method,
    rawPath: '/test.txt',
    query: parseQuery(search),
    headers: { host: 'examplebucket.s3.amazonaws.com' },
  });
  const during = new Date('2013-05-24T12:00:00Z');

  it("accepts the documentation's example while it is valid, and not after", () => {
    expect(() => checkPresigned(request(), example, during)).not.toThrow();
    expect(
      refusal(() => checkPresigned(request(), example, new Date('2013-05-25T00:00:01Z'))),
    ).toEqual({
      status: 403,
      code: 'AccessDenied',
      message: 'Request has expired',
      extra: {
        'X-Amz-Expires': 86400,
        Expires: '2013-05-25T00:00:00Z',
        ServerTime: '2013-05-25T00:00:01Z',
      },
    });
  });

  it('refuses it changed: another method, path, host, parameter or signature', () => {
    const mismatch = { status: 403, code: 'SignatureDoesNotMatch' };
    expect(refusal(() => checkPresigned(request(query, 'HEAD'), example, during))).toMatchObject(
      mismatch,
    );
    expect(
      refusal(() => checkPresigned({ ...request(), rawPath: '/test2.txt' }, example, during)),
    ).toMatchObject(mismatch);
    expect(
      refusal(() =>
        checkPresigned(
          { ...request(), headers: { host: 'other.s3.amazonaws.com' } },
          example,
          during,
        ),
      ),
    ).toMatchObject(mismatch);
    expect(
      refusal(() =>
        checkPresigned(request(`${query}&response-content-type=text%2Fhtml`), example, during),
      ),
    ).toMatchObject(mismatch);
    expect(
      refusal(() => checkPresigned(request(query.replace('aeeed9', 'aeeed8')), example, during)),
    ).toMatchObject(mismatch);
    expect(
      refusal(() => checkPresigned(request(), { ...example, credentials: credentials }, during)),
    ).toMatchObject({
      code: 'InvalidAccessKeyId',
    });
  });

  it('refuses malformed or out-of-range auth parameters as S3 does', () => {
    const error = (search: string) =>
      refusal(() => checkPresigned(request(search), example, during));
    expect(error(query.replace('X-Amz-Expires=86400', 'X-Amz-Expires=604801'))).toMatchObject({
      status: 400,
      code: 'AuthorizationQueryParametersError',
      message: 'X-Amz-Expires must be less than a week (in seconds) that is 604800',
    });
    expect(error(query.replace('&X-Amz-SignedHeaders=host', ''))).toMatchObject({
      code: 'AuthorizationQueryParametersError',
    });
    expect(error(query.replace('X-Amz-Date=20130524', 'X-Amz-Date=20130525'))).toMatchObject({
      message:
        'Invalid credential date "20130524". This date is not the same as X-Amz-Date: "20130525".',
    });
    expect(error(query.replace('%2Fs3%2F', '%2Fsqs%2F'))).toMatchObject({ status: 400 });
  });
});

describe('tag sets', () => {
  it('round-trip through the XML S3 and the SDK write', () => {
    const tags = [
      { Key: 'a & b', Value: '<x>' },
      { Key: 'ünï', Value: '' },
    ];
    expect(parseTagging(taggingXml(tags))).toEqual(tags);
    expect(parseTaggingHeader('a=1&b=two%20words')).toEqual([
      { Key: 'a', Value: '1' },
      { Key: 'b', Value: 'two words' },
    ]);
  });

  it('refuses what S3 refuses: over 10 tags, a key twice, an aws: key, too long', () => {
    const many = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: '' }));
    expect(refusal(() => parseTagging(taggingXml(many)))).toMatchObject({
      status: 400,
      code: 'BadRequest',
    });
    expect(refusal(() => parseTaggingHeader('a=1&a=2'))).toMatchObject({ code: 'InvalidTag' });
    expect(refusal(() => parseTaggingHeader('aws:x=1'))).toMatchObject({ code: 'InvalidTag' });
    expect(refusal(() => parseTaggingHeader(`k=${'v'.repeat(257)}`))).toMatchObject({
      code: 'InvalidTag',
    });
    expect(refusal(() => parseTaggingHeader(`${'k'.repeat(129)}=v`))).toMatchObject({
      code: 'InvalidTag',
    });
    expect(refusal(() => parseTagging('<Tagging><TagSet><Tag><Key>a</Key>'))).toMatchObject({
      code: 'MalformedXML',
    });
  });

  it("reads a DeleteObjects body's keys", () => {
    expect(
      deletedKeys(
        '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a/1</Key></Object><Object><Key>b&amp;c</Key><VersionId>v</VersionId></Object><Quiet>true</Quiet></Delete>',
      ),
    ).toEqual(['a/1', 'b&c']);
  });
});
