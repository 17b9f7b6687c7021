import { z } from 'zod';
import { AppError } from '#platform/errors.ts';
import { wsAction } from '#platform/ws.ts';

/** Frames whose `action` matches no route. */
export const handler = wsAction(
  '$default',
  z.object({ action: z.unknown().optional() }),
  async ({ body }) => {
    const action = typeof body.action === 'string' ? body.action : '(none)';
    throw new AppError('VALIDATION_ERROR', `Unknown action: ${action.slice(0, 64)}`);
  },
);
