import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { setTestEnv } from './support.ts';

setTestEnv();
process.env.ATTACHMENTS_BUCKET = 'files-test';
const { attachmentsPushText, kindOf, maxBytes } = await import('#domain/attachment-rules.ts');
const { pushBody } = await import('#domain/offline-delivery.ts');
const { createAttachmentBody, sendMessageBody } = await import('#domain/schemas.ts');
const { uploadForm } = await import('#store/attachment-files.ts');
const { contentDisposition, downloadUrl } = await import('#store/file-requests.ts');
const { decodeChanges } = await import('#store/stream-changes.ts');

/** Issue 22: the rules, the upload policy, the download URL and the stream's view of files. */

describe('attachment rules', () => {
  it('sizes each kind as CONTRACT §7 says (MB = 1,000,000 bytes)', () => {
    expect(maxBytes(kindOf('image/heic'))).toBe(16_000_000);
    expect(maxBytes(kindOf('audio/ogg'))).toBe(16_000_000);
    expect(maxBytes(kindOf('video/quicktime'))).toBe(64_000_000);
    expect(maxBytes(kindOf('application/pdf'))).toBe(100_000_000);
    expect(maxBytes(kindOf('application/octet-stream'))).toBe(100_000_000);
  });

  it('says what kind of file arrived in a push, never a name or URL', () => {
    expect(attachmentsPushText(['image/png'])).toBe('📷 Photo');
    expect(attachmentsPushText(['image/png', 'image/jpeg'])).toBe('📷 Photos (2)');
    expect(attachmentsPushText(['audio/mp4'])).toBe('🎤 Voice message');
    expect(attachmentsPushText(['image/png', 'application/pdf'])).toBe('📎 2 files');
    const file = {
      id: 'a',
      content_type: 'application/pdf',
      size_bytes: 1,
      file_name: 'secret-plan.pdf',
      is_encrypted: false,
      created_at: '',
    };
    expect(pushBody({ is_encrypted: false, content: '', attachments: [file] })).toBe('📎 File');
    expect(pushBody({ is_encrypted: false, content: 'look', attachments: [file] })).toBe(
      '📎 File: look',
    );
    expect(
      pushBody({ is_encrypted: true, content: '', attachments: [{ ...file, is_encrypted: true }] }),
    ).toBe('New encrypted message');
    expect(pushBody({ is_encrypted: false, content: '', attachments: [file] })).not.toContain(
      'secret-plan',
    );
  });

  it('validates slots: listed types only, whole positive sizes, names without control characters', () => {
    const ok = { content_type: 'image/png', size_bytes: 10, file_name: 'a.png' };
    expect(createAttachmentBody.safeParse(ok).success).toBe(true);
    const refused = (body: Record<string, unknown>) => {
      const parsed = createAttachmentBody.safeParse({ ...ok, ...body });
      return parsed.success ? [] : parsed.error.issues.map((i) => i.path.join('.'));
    };
    expect(refused({ content_type: 'text/html' })).toEqual(['content_type']);
    expect(refused({ size_bytes: 0 })).toEqual(['size_bytes']);
    expect(refused({ size_bytes: 1.5 })).toEqual(['size_bytes']);
    expect(refused({ file_name: 'a\nb' })).toEqual(['file_name']);
    expect(refused({ file_name: 'x'.repeat(256) })).toEqual(['file_name']);
  });

  it('takes a message of files alone, 1–10 distinct ids', () => {
    expect(sendMessageBody.safeParse({ attachment_ids: ['A1'] }).success).toBe(true);
    expect(sendMessageBody.safeParse({ attachment_ids: [] }).success).toBe(false);
    expect(sendMessageBody.safeParse({ attachment_ids: ['A1', 'A1'] }).success).toBe(false);
    const eleven = Array.from({ length: 11 }, (_, i) => `A${i}`);
    expect(sendMessageBody.safeParse({ attachment_ids: eleven }).success).toBe(false);
    expect(sendMessageBody.safeParse({ attachment_ids: ['a/b'] }).success).toBe(false);
    expect(sendMessageBody.safeParse({}).success).toBe(false);
  });
});

describe('upload form and download URL', () => {
  it('pins the key, the exact type, the size range and the unsent tag, for 15 minutes', async () => {
    const before = Date.now();
    const form = await uploadForm({ room_id: 'r1', id: 'F1' }, 'image/png', 1234, 900);
    expect(form.url).toContain('files-test');
    expect(form.fields).toMatchObject({ key: 'rooms/r1/F1', 'Content-Type': 'image/png' });
    const policy = JSON.parse(Buffer.from(form.fields.Policy!, 'base64').toString('utf8')) as {
      expiration: string;
      conditions: unknown[];
    };
    expect(policy.conditions).toEqual(
      expect.arrayContaining([
        { bucket: 'files-test' },
        { key: 'rooms/r1/F1' },
        ['content-length-range', 1, 1234],
        ['eq', '$Content-Type', 'image/png'],
        ['eq', '$tagging', form.fields.tagging],
      ]),
    );
    expect(form.fields.tagging).toContain('<Value>unsent</Value>');
    const expires = Date.parse(policy.expiration) - before;
    expect(expires).toBeGreaterThan(899_000);
    expect(expires).toBeLessThanOrEqual(901_000);
  });

  it('signs a download for at most the time asked, and names the file safely', async () => {
    const { url, expiresInSeconds } = await downloadUrl(
      { room_id: 'r1', id: 'F1' },
      'naïve "plan".pdf',
      'application/pdf',
      900,
    );
    const query = new URL(url).searchParams;
    expect(expiresInSeconds).toBe(900);
    expect(query.get('X-Amz-Expires')).toBe('900');
    expect(new URL(url).pathname).toContain('rooms/r1/F1');
    expect(query.get('response-content-disposition')).toBe(contentDisposition('naïve "plan".pdf'));
    expect(contentDisposition('naïve "plan".pdf')).toBe(
      `attachment; filename="na_ve _plan_.pdf"; filename*=UTF-8''${encodeURIComponent('naïve "plan".pdf')}`,
    );
    expect(contentDisposition(null)).toBe('attachment');
  });
});

describe('the stream and files', () => {
  const message = {
    pk: 'ROOM#r1',
    sk: 'MSG#000000000001',
    entity: 'message',
    id: 'r1.1',
    room_id: 'r1',
    seq: 1,
    sender_id: 'a',
    content: '',
    is_deleted: false,
    created_at: '2026-01-01T00:00:00.000Z',
    attachments: [
      {
        id: 'F1',
        content_type: 'image/png',
        size_bytes: 1,
        file_name: null,
        is_encrypted: false,
        created_at: '',
      },
    ],
  };
  const record = (before?: object, after?: object): DynamoDBRecord => ({
    dynamodb: {
      ...(before ? { OldImage: marshall(before, { removeUndefinedValues: true }) as never } : {}),
      ...(after ? { NewImage: marshall(after, { removeUndefinedValues: true }) as never } : {}),
    },
  });
  const kinds = (r: DynamoDBRecord) => decodeChanges(r).map((c) => c.kind);

  it('releases a message’s files when it is deleted for everyone or removed, not otherwise', () => {
    const deleted = { ...message, is_deleted: true, attachments: undefined };
    expect(kinds(record(message, deleted))).toEqual(['message-deleted', 'files-released']);
    expect(kinds(record(message, undefined))).toEqual(['files-released']);
    expect(kinds(record(undefined, message))).toEqual(['message-stored']);
    expect(kinds(record(message, { ...message, forwarded_count: 2 }))).toEqual([]);
    const plain = { ...message, attachments: [] };
    expect(kinds(record(plain, undefined))).toEqual([]);
  });

  it('keeps a file once a send claims it; an unsent slot that expires needs nothing', () => {
    const slot = { pk: 'ATT#F1', sk: 'META', entity: 'attachment', id: 'F1', room_id: 'r1' };
    expect(
      decodeChanges(record({ ...slot, state: 'pending' }, { ...slot, state: 'sent' })),
    ).toEqual([{ kind: 'file-sent', roomId: 'r1', attachmentId: 'F1' }]);
    expect(kinds(record({ ...slot, state: 'sent' }, { ...slot, state: 'sent' }))).toEqual([]);
    expect(kinds(record({ ...slot, state: 'pending' }, undefined))).toEqual([]);
  });
});
