import { typingFrame } from '#domain/schemas.ts';
import { sendTyping } from '#domain/typing.ts';
import { wsAction } from '#platform/ws.ts';

export const handler = wsAction('typing', typingFrame, async ({ caller, body }) => {
  await sendTyping(caller, body.room_id, body.is_typing);
});
