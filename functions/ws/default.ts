import * as z from 'zod/mini';
import { AppError } from '#platform/errors.ts';
import { wsAction } from '#platform/ws.ts';

/** The action a client sent, as far as it can be named (a long one is cut). */
const sentAction = (frame: Record<string, unknown>) =>
  typeof frame.action === 'string' ? frame.action.slice(0, 64) : '$default';

/** Frames whose `action` matches no route: the answer names the action the client sent. */
export const handler = wsAction(
  '$default',
  z.looseObject({ action: z.optional(z.unknown()) }),
  async ({ body }) => {
    const action = typeof body.action === 'string' ? body.action : '(none)';
    throw new AppError('VALIDATION_ERROR', `Unknown action: ${action.slice(0, 64)}`);
  },
  { reportedAction: sentAction },
);
