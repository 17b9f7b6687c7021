import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatClient } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/** CONTRACT §10 (issue 26, items 1 and 2): replies carry a quote of their original; mentions name members. */
type Quote = { message_id: string; sender_id: string; preview: string; is_deleted: boolean };
type Message = { id: string; content: string; reply_to: Quote | null; mentions: string[] };
type Env = Awaited<ReturnType<typeof startStack>>;

let env: Env;
beforeAll(async () => {
  env = await startStack();
});
afterAll(async () => env?.stop());

const send = (c: ChatClient, roomId: string, body: Record<string, unknown>) =>
  c.http<Message>('POST', `/api/chat/rooms/${roomId}/messages`, body);
const group = async (owner: ChatClient, others: string[]) =>
  (
    await owner.http<{ id: string }>('POST', '/api/chat/rooms', {
      type: 'group',
      name: 'replies',
      member_ids: others,
    })
  ).body.data.id;
const listed = async (c: ChatClient, roomId: string) =>
  (await c.http<{ messages: Message[] }>('GET', `/api/chat/rooms/${roomId}/messages?limit=50`)).body
    .data.messages;

describe('replies', () => {
  it('quote the first 100 characters of the original, live and listed; a deletion for everyone flips them in the list and in sync', async () => {
    const [ann, bob] = await Promise.all([env.client('rp_ann'), env.client('rp_bob')]);
    const roomId = await group(ann, ['rp_bob']);
    await bob.connect();
    const text = `${'é'.repeat(60)}${'x'.repeat(60)}`;
    const original = (await send(bob, roomId, { content: text })).body.data;
    const cursor = (await bob.http<{ next_since: string }>('GET', '/api/chat/sync')).body.data
      .next_since;
    const reply = await send(ann, roomId, {
      content: 'agreed',
      reply_to_message_id: original.id,
      temp_id: 'r1',
    });
    expect(reply.status).toBe(201);
    const quote = {
      message_id: original.id,
      sender_id: 'rp_bob',
      preview: `${'é'.repeat(60)}${'x'.repeat(40)}`,
      is_deleted: false,
    };
    expect(reply.body.data.reply_to).toEqual(quote);
    const live = await bob.waitFor(
      'new-chat-message',
      (d) => (d.message as Message).id === reply.body.data.id,
    );
    expect((live.data.message as Message).reply_to).toEqual(quote);
    expect((await listed(bob, roomId)).find((m) => m.id === reply.body.data.id)?.reply_to).toEqual(
      quote,
    );

    expect((await bob.http('DELETE', `/api/chat/messages/${original.id}`)).status).toBe(200);
    const gone = { ...quote, preview: '', is_deleted: true };
    for (const who of [ann, bob])
      expect(
        (await listed(who, roomId)).find((m) => m.id === reply.body.data.id)?.reply_to,
      ).toEqual(gone);
    const synced = (
      await bob.http<{ events: { event: string; data: { message?: Message } }[] }>(
        'GET',
        `/api/chat/sync?since=${encodeURIComponent(cursor)}`,
      )
    ).body.data.events;
    const inSync = synced.find((e) => e.data.message?.id === reply.body.data.id);
    expect(inSync?.data.message?.reply_to).toEqual(gone);
  });

  it('refuse an original of another room, a deleted one and one the sender cleared, with 400; an encrypted original quotes nothing', async () => {
    const [ann, bob] = await Promise.all([env.client('rq_ann'), env.client('rq_bob')]);
    const [here, there] = [await group(ann, ['rq_bob']), await group(ann, ['rq_bob'])];
    const elsewhere = (await send(bob, there, { content: 'there' })).body.data;
    const deleted = (await send(bob, here, { content: 'soon gone' })).body.data;
    await bob.http('DELETE', `/api/chat/messages/${deleted.id}`);
    const cleared = (await send(bob, here, { content: 'cleared for ann' })).body.data;
    await ann.http('DELETE', `/api/chat/rooms/${here}/messages`, { for_everyone: false });
    for (const target of [elsewhere.id, deleted.id, cleared.id, `${here}.999`]) {
      const refused = await send(ann, here, { content: 're', reply_to_message_id: target });
      expect(refused.status, target).toBe(400);
      expect(JSON.stringify(refused.body)).toContain('reply_to_message_id');
    }
    const secret = (
      await send(bob, here, {
        is_encrypted: true,
        encrypted_content: 'Y2lwaGVy',
        encryption_key_id: 'k1',
      })
    ).body.data;
    const reply = await send(ann, here, { content: 're', reply_to_message_id: secret.id });
    expect(reply.status).toBe(201);
    expect(reply.body.data.reply_to).toEqual({
      message_id: secret.id,
      sender_id: 'rq_bob',
      preview: '',
      is_deleted: false,
    });
  });
});

describe('mentions', () => {
  it('are carried on the message when every id is a member, else 400 naming the field', async () => {
    const [ann] = await Promise.all([env.client('mn_ann'), env.client('mn_bob')]);
    const roomId = await group(ann, ['mn_bob', 'mn_cy']);
    const sent = await send(ann, roomId, { content: '@bob @cy', mentions: ['mn_bob', 'mn_cy'] });
    expect(sent.status).toBe(201);
    expect(sent.body.data.mentions).toEqual(['mn_bob', 'mn_cy']);
    expect((await listed(ann, roomId)).find((m) => m.id === sent.body.data.id)?.mentions).toEqual([
      'mn_bob',
      'mn_cy',
    ]);
    expect((await send(ann, roomId, { content: 'plain' })).body.data.mentions).toEqual([]);
    for (const mentions of [
      ['mn_zed'],
      ['mn_bob', 'mn_bob'],
      Array.from({ length: 51 }, (_, i) => `u${i}`),
    ]) {
      const refused = await send(ann, roomId, { content: 'x', mentions });
      expect(refused.status, JSON.stringify(mentions)).toBe(400);
      expect(JSON.stringify(refused.body)).toContain('mentions');
    }
  });
});
