import { InvalidTokenError } from './errors.ts';
import { isStorableUserId } from './user-id.ts';

/** Who calls: the verified token's subject and display name. */
export interface Caller {
  userId: string;
  name: string;
}

/**
 * The caller a token names: `sub` is the user id (see isStorableUserId), `name`
 * the display name (falls back to the id). Claims come as JSON values from a
 * token, or as strings from API Gateway's JWT authorizer; both read the same here.
 */
export function callerFromClaims(claims: Record<string, unknown> | undefined): Caller {
  const sub = claims?.sub;
  if (typeof sub !== 'string' || !isStorableUserId(sub)) {
    throw new InvalidTokenError();
  }
  const name = typeof claims?.name === 'string' && claims.name ? claims.name : sub;
  return { userId: sub, name: name.slice(0, 200) };
}
