import { myBlocks } from '#domain/blocks.ts';
import { responseRef } from '#domain/response-ref.ts';
import { httpRoute } from '#platform/http.ts';

/** GET /api/chat/blocks: the users the caller blocks, oldest block first (CONTRACT §9). */
export const handler = httpRoute({ response: responseRef('blockList') }, async ({ caller }) => ({
  data: await myBlocks(caller),
}));
