import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caller, localAws } from './support.ts';

/**
 * Issue 22 against DynamoDB Local and the local S3: the claim that makes a
 * file one message's, whatever the interleaving of two sends; and the
 * attachments queue's consumer, which keeps a sent file and deletes only the
 * bytes no message carries any more.
 */
let aws: Awaited<ReturnType<typeof localAws>>;
beforeAll(async () => {
  aws = await localAws();
});
afterAll(async () => aws?.stop());

type Slot = { attachment_id: string; upload: { url: string; fields: Record<string, string> } };

async function slotFor(userId: string, roomId: string, size: number): Promise<Slot> {
  const { createUploadSlot } = await import('#domain/attachments.ts');
  return createUploadSlot(caller(userId), roomId, {
    content_type: 'image/png',
    size_bytes: size,
    is_encrypted: false,
  });
}

async function post(slot: Slot, bytes: Uint8Array) {
  const form = new FormData();
  for (const [k, v] of Object.entries(slot.upload.fields)) form.append(k, v);
  form.append('file', new Blob([bytes]), 'f');
  const res = await fetch(slot.upload.url, { method: 'POST', body: form });
  expect(res.status).toBe(204);
}

async function uploadedFile(userId: string, roomId: string, bytes = randomBytes(16)) {
  const slot = await slotFor(userId, roomId, bytes.length);
  await post(slot, bytes);
  return slot.attachment_id;
}

async function groupOf(owner: string, others: string[]) {
  const { createRoom } = await import('#domain/rooms.ts');
  return (await createRoom(caller(owner), { type: 'group', name: 'f', member_ids: others })).room;
}

describe('claims', () => {
  it('gives a file to one of two sends whose checks both passed before either stored', async () => {
    const { resolveAttachments } = await import('#domain/attachment-claims.ts');
    const { storeMessages } = await import('#store/append-message.ts');
    const { newMessage } = await import('#domain/model.ts');
    const room = await groupOf('ac_a', ['ac_b']);
    const id = await uploadedFile('ac_a', room.id);
    // Both sends check the file first: both see it pending.
    const [first, second] = await Promise.all([
      resolveAttachments(caller('ac_a'), room.id, [id], false),
      resolveAttachments(caller('ac_a'), room.id, [id], false),
    ]);
    const message = (seq: number, attachments: typeof first) =>
      newMessage(
        { id: `${room.id}.${seq}`, room_id: room.id, seq },
        caller('ac_a'),
        { content: `m${seq}`, message_type: 'text', is_encrypted: false, attachments },
        new Date().toISOString(),
      );
    const outcomes = await Promise.all([
      storeMessages([message(101, first)]),
      storeMessages([message(102, second)]),
    ]);
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['attachment-taken', 'stored']);
    expect(outcomes.find((o) => o.kind === 'attachment-taken')).toEqual({
      kind: 'attachment-taken',
      attachmentId: id,
    });
    // The loser stored nothing: its message is not there.
    const { getMessagesBySeq } = await import('#store/messages.ts');
    expect((await getMessagesBySeq(room.id, [101, 102])).map((m) => m.attachments[0]?.id)).toEqual([
      id,
    ]);
  });

  it('refuses another user’s file and another room’s, even when the pre-check is skipped', async () => {
    const { storeMessages } = await import('#store/append-message.ts');
    const { newMessage } = await import('#domain/model.ts');
    const room = await groupOf('ac_c', ['ac_d']);
    const other = await groupOf('ac_c', ['ac_d']);
    const ofD = await uploadedFile('ac_d', room.id);
    const elsewhere = await uploadedFile('ac_c', other.id);
    const ref = (id: string) => ({
      id,
      content_type: 'image/png',
      size_bytes: 16,
      file_name: null,
      is_encrypted: false,
      created_at: new Date().toISOString(),
    });
    for (const [seq, id] of [
      [201, ofD],
      [202, elsewhere],
    ] as const) {
      const outcome = await storeMessages([
        newMessage(
          { id: `${room.id}.${seq}`, room_id: room.id, seq },
          caller('ac_c'),
          { content: 'x', message_type: 'text', is_encrypted: false, attachments: [ref(id)] },
          new Date().toISOString(),
        ),
      ]);
      expect(outcome).toEqual({ kind: 'attachment-taken', attachmentId: id });
    }
  });
});

describe('the attachments queue consumer', () => {
  it('keeps a sent file (retagged sent) and deletes bytes only once no message carries them', async () => {
    const { sendMessage, deleteMessage } = await import('#domain/messages.ts');
    const { forwardMessage } = await import('#domain/forwarding.ts');
    const { runAttachmentJob } = await import('#domain/attachments.ts');
    const { messageReleasedFiles } = await import('#domain/attachment-release.ts');
    const { getMessage } = await import('#store/messages.ts');
    const { S3Client, GetObjectTaggingCommand, HeadObjectCommand } = await import(
      '@aws-sdk/client-s3'
    );
    const s3 = new S3Client({ forcePathStyle: true });
    const Bucket = process.env.ATTACHMENTS_BUCKET!;
    const room = await groupOf('aq_a', ['aq_b']);
    const target = await groupOf('aq_b', ['aq_c']);
    const id = await uploadedFile('aq_a', room.id);
    const Key = `rooms/${room.id}/${id}`;
    const tag = async () =>
      (await s3.send(new GetObjectTaggingCommand({ Bucket, Key }))).TagSet?.map(
        (t) => `${t.Key}=${t.Value}`,
      );
    expect(await tag()).toEqual(['chat-state=unsent']);

    const sent = await sendMessage(caller('aq_a'), room.id, {
      content: '',
      message_type: 'text',
      is_encrypted: false,
      attachment_ids: [id],
    });
    await runAttachmentJob({ op: 'keep', room_id: room.id, attachment_id: id });
    expect(await tag()).toEqual(['chat-state=sent']);

    const copy = (await forwardMessage(caller('aq_b'), sent.message.id, [target.id]))
      .forwarded_messages[0]!;
    // The original goes: the copy still carries the bundle, so the bytes stay.
    await deleteMessage(caller('aq_a'), sent.message.id);
    await messageReleasedFiles((await getMessageBefore(sent.message.id))!);
    await runAttachmentJob({ op: 'release', bundle: sent.message.id, attachment_ids: [id] });
    await expect(s3.send(new HeadObjectCommand({ Bucket, Key }))).resolves.toBeDefined();

    // The copy goes too: now nothing carries it, and the bytes and record go.
    await deleteMessage(caller('aq_b'), copy.id);
    await messageReleasedFiles((await getMessageBefore(copy.id))!);
    await runAttachmentJob({ op: 'release', bundle: sent.message.id, attachment_ids: [id] });
    await expect(s3.send(new HeadObjectCommand({ Bucket, Key }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    const { getAttachment } = await import('#store/attachments.ts');
    expect(await getAttachment(id)).toBeUndefined();
    // Running it again (a redelivered job) changes nothing and does not fail.
    await runAttachmentJob({ op: 'release', bundle: sent.message.id, attachment_ids: [id] });

    /** The message as the stream's old image had it: with its files, before the delete. */
    async function getMessageBefore(messageId: string) {
      const now = await getMessage(messageId);
      return now && { ...now, attachments: sent.message.attachments };
    }
  });
});

describe('a slot reused after its send', () => {
  it('keeps the bytes the send claimed, and deletes bytes swapped in before the slot expired', async () => {
    const { sendMessage } = await import('#domain/messages.ts');
    const { runAttachmentJob } = await import('#domain/attachments.ts');
    const { S3Client, HeadObjectCommand, GetObjectTaggingCommand } = await import(
      '@aws-sdk/client-s3'
    );
    const { LIMITS } = await import('#platform/limits.ts');
    const s3 = new S3Client({ forcePathStyle: true });
    const Bucket = process.env.ATTACHMENTS_BUCKET!;
    const room = await groupOf('sw_a', ['sw_b']);
    const afterSlot = Date.now() + (LIMITS.uploadSlotSeconds + 10) * 1000;
    const send = (id: string) =>
      sendMessage(caller('sw_a'), room.id, {
        content: '',
        message_type: 'text',
        is_encrypted: false,
        attachment_ids: [id],
      });

    // Same bytes posted again: still what the send claimed, kept and tagged sent.
    const kept = await slotFor('sw_a', room.id, 16);
    const bytes = randomBytes(16);
    await post(kept, bytes);
    await send(kept.attachment_id);
    await runAttachmentJob({ op: 'keep', room_id: room.id, attachment_id: kept.attachment_id });
    await post(kept, bytes);
    await runAttachmentJob(
      { op: 'verify', room_id: room.id, attachment_id: kept.attachment_id },
      afterSlot,
    );
    const keptKey = `rooms/${room.id}/${kept.attachment_id}`;
    const tags = await s3.send(new GetObjectTaggingCommand({ Bucket, Key: keptKey }));
    expect(tags.TagSet?.map((t) => t.Value)).toEqual(['sent']);

    // Other bytes posted through the still-valid slot after the send: they go.
    const swapped = await slotFor('sw_a', room.id, 16);
    await post(swapped, randomBytes(16));
    await send(swapped.attachment_id);
    await runAttachmentJob({ op: 'keep', room_id: room.id, attachment_id: swapped.attachment_id });
    await post(swapped, randomBytes(16));
    await runAttachmentJob(
      { op: 'verify', room_id: room.id, attachment_id: swapped.attachment_id },
      afterSlot,
    );
    await expect(
      s3.send(new HeadObjectCommand({ Bucket, Key: `rooms/${room.id}/${swapped.attachment_id}` })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
  });
});
