import * as z from 'zod/mini';
import { AppError } from '#platform/errors.ts';
import { wsAction } from '#platform/ws.ts';

/** Frames whose `action` matches no route. */
export const handler = wsAction(
  '$default',
  z.looseObject({ action: z.optional(z.unknown()) }),
  async ({ body }) => {
    const action = typeof body.action === 'string' ? body.action : '(none)';
    throw new AppError('VALIDATION_ERROR', `Unknown action: ${action.slice(0, 64)}`);
  },
);
