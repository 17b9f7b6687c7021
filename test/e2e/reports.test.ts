import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack } from '../support/stack.ts';

/**
 * Issue 23 part 2 (CONTRACT §9): a report keeps the message as it was, even
 * after it is deleted; a reporter who cannot see the message gets 404; the
 * operator's topic hears of every new report.
 */
type Env = Awaited<ReturnType<typeof startStack>>;
let env: Env;
beforeAll(async () => {
  env = await startStack();
});
afterAll(async () => env?.stop());

describe('reports', () => {
  it('keeps the evidence after a delete, and tells the operator', async () => {
    const [ann, bob, eve] = await Promise.all([
      env.client('r_ann'),
      env.client('r_bob'),
      env.client('r_eve'),
    ]);
    const room = (
      await bob.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'r',
        member_ids: ['r_ann'],
      })
    ).body.data.id;
    const message = (
      await bob.http<{ id: string; created_at: string }>(
        'POST',
        `/api/chat/rooms/${room}/messages`,
        { content: 'something abusive' },
      )
    ).body.data;
    const spy = env.stack.aws.messaging.server.spy;
    const report = await ann.http<{ report_id: string }>('POST', '/api/chat/reports', {
      message_id: message.id,
      reason: 'harassment',
      note: 'not the first time',
    });
    expect(report.status).toBe(201);
    // The operator's topic heard of it.
    const published = await spy.waitForMessage(
      (m) =>
        m.service === 'sns' &&
        m.topicArn === env.stack.aws.messaging.reportsTopicArn &&
        m.body.includes(report.body.data.report_id),
      undefined,
      5000,
    );
    expect(JSON.stringify(published)).toContain('harassment');
    // Deleted afterwards: the report still holds it (read back through the store).
    expect((await bob.http('DELETE', `/api/chat/messages/${message.id}`)).status).toBe(200);
    const { getReportForTest } = await import('./support-reports.ts');
    const stored = await getReportForTest(report.body.data.report_id);
    expect(stored).toMatchObject({
      status: 'open',
      reason: 'harassment',
      reporter_id: 'r_ann',
      user_id: 'r_bob',
      evidence: {
        message_id: message.id,
        room_id: room,
        sender_id: 'r_bob',
        content: 'something abusive',
        created_at: message.created_at,
      },
    });

    // A stranger cannot report (or learn of) a message they cannot see.
    const stranger = await eve.http('POST', '/api/chat/reports', {
      message_id: (
        await bob.http<{ id: string }>('POST', `/api/chat/rooms/${room}/messages`, {
          content: 'another',
        })
      ).body.data.id,
      reason: 'spam',
    });
    expect([stranger.status, stranger.body.error?.code]).toEqual([404, 'NOT_FOUND']);
    // Nor a deleted one.
    const deleted = await ann.http('POST', '/api/chat/reports', {
      message_id: message.id,
      reason: 'spam',
    });
    expect(deleted.status).toBe(404);
    // A user alone, with no evidence; and neither id is 400.
    const user = await ann.http<{ report_id: string }>('POST', '/api/chat/reports', {
      user_id: 'r_eve',
      reason: 'spam',
    });
    expect(user.status).toBe(201);
    expect((await getReportForTest(user.body.data.report_id))?.evidence).toBeNull();
    const neither = await ann.http('POST', '/api/chat/reports', { reason: 'spam' });
    expect(neither.status).toBe(400);
    expect(JSON.stringify(neither.body)).toContain('message_id');
  });
});
