import { afterAll, beforeAll, expect, it } from 'vitest';
import { caller, drainOffline, localAws } from './support.ts';

/**
 * The stream's late delivery of a stored message (room-activity.ts
 * deliverStoredMessages) reads the room's members when it runs, which can be
 * seconds after the send: by then someone may have joined. Joining sets their
 * clear marker to the room's seq, so a message from before they joined is not
 * theirs: it must not reach them live nor through the offline queue. (The fuzz
 * newcomer scenario met it when the stream ran behind a join.)
 */
let aws: Awaited<ReturnType<typeof localAws>>;
beforeAll(async () => {
  aws = await localAws();
});
afterAll(async () => aws?.stop());

it('does not queue a message for a member who joined after it, and still queues it for the others', async () => {
  const { createRoom, addMembers } = await import('#domain/rooms.ts');
  const { sendMessage } = await import('#domain/messages.ts');
  const { deliverStoredMessages } = await import('#domain/room-activity.ts');
  const { getMessagesBySeq } = await import('#store/messages.ts');
  const room = (
    await createRoom(caller('lf_a'), { type: 'group', name: 'l', member_ids: ['lf_b'] })
  ).room;
  const sent = await sendMessage(caller('lf_a'), room.id, {
    content: 'before lf_c joined',
    message_type: 'text',
    is_encrypted: false,
  });
  await addMembers(caller('lf_a'), room.id, ['lf_c']);
  await drainOffline();
  // The stream runs now, behind the join.
  const [stored] = await getMessagesBySeq(room.id, [Number(sent.message.id.split('.').pop())]);
  await deliverStoredMessages(room.id, [stored!]);
  const queued = (await drainOffline()).filter((b) => b.message.id === sent.message.id);
  expect(queued.map((b) => b.user_id).sort()).toEqual(['lf_b']);

  // A message after the join is the newcomer's like anyone's.
  const after = await sendMessage(caller('lf_a'), room.id, {
    content: 'after',
    message_type: 'text',
    is_encrypted: false,
  });
  await drainOffline();
  const [next] = await getMessagesBySeq(room.id, [Number(after.message.id.split('.').pop())]);
  await deliverStoredMessages(room.id, [next!]);
  const queuedAfter = (await drainOffline()).filter((b) => b.message.id === after.message.id);
  expect(queuedAfter.map((b) => b.user_id).sort()).toEqual(['lf_b', 'lf_c']);
});

it("a member item not yet readable (eventually consistent) hides nothing: the room's join time decides", async () => {
  const { createRoom, addMembers } = await import('#domain/rooms.ts');
  const { sendMessage } = await import('#domain/messages.ts');
  const { deliverStoredMessages } = await import('#domain/room-activity.ts');
  const { getMessagesBySeq } = await import('#store/messages.ts');
  const { memberKey } = await import('#store/members.ts');
  const { DeleteCommand } = await import('@aws-sdk/lib-dynamodb');
  const { ddb, tableName } = await import('#platform/clients.ts');
  const room = (
    await createRoom(caller('lf_d'), { type: 'group', name: 'l2', member_ids: ['lf_e'] })
  ).room;
  await addMembers(caller('lf_d'), room.id, ['lf_f']);
  const after = await sendMessage(caller('lf_d'), room.id, {
    content: 'welcome',
    message_type: 'text',
    is_encrypted: false,
  });
  await drainOffline();
  // The newcomer's member item, as a read that has not seen the write yet finds it: absent.
  await ddb().send(new DeleteCommand({ TableName: tableName(), Key: memberKey('lf_f', room.id) }));
  const [stored] = await getMessagesBySeq(room.id, [Number(after.message.id.split('.').pop())]);
  await deliverStoredMessages(room.id, [stored!]);
  const queued = (await drainOffline()).filter((b) => b.message.id === after.message.id);
  expect(queued.map((b) => b.user_id).sort()).toEqual(['lf_e', 'lf_f']);
});
