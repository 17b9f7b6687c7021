import { requestErase } from '#domain/account-erase.ts';
import { responseRef } from '#domain/response-ref.ts';
import { eraseAccountQuery } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** DELETE /api/chat/me?erase_messages=: erase the caller's account (CONTRACT §9), off the request path. */
export const handler = httpRoute(
  { query: eraseAccountQuery, response: responseRef('eraseAccepted') },
  async ({ caller, query }) => ({
    status: 202,
    message: 'Account erase accepted',
    data: await requestErase(caller, query.erase_messages),
  }),
);
