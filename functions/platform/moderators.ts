import { ENV } from './env.ts';
import { forbidden } from './errors.ts';

/** The group a stage's moderators carry when `-c moderatorGroup` is not set. */
export const DEFAULT_MODERATOR_GROUP = 'moderators';

/**
 * The groups a token names, from `groups` or `cognito:groups`. A token carries
 * a JSON list; API Gateway's JWT authorizer hands functions every claim as a
 * string, a list written `[a b c]`; some providers send one group, or a
 * comma-separated string. Each form reads the same here.
 */
export function groupsOf(claims: Record<string, unknown> | undefined): string[] {
  const groups = new Set<string>();
  for (const name of ['groups', 'cognito:groups']) {
    const claim = claims?.[name];
    const values = Array.isArray(claim)
      ? claim
      : typeof claim === 'string'
        ? claim.replace(/^\[(.*)\]$/s, '$1').split(/[\s,]+/)
        : [];
    for (const value of values) if (typeof value === 'string' && value) groups.add(value);
  }
  return [...groups];
}

/**
 * The one moderator check (CONTRACT §9): the token's groups hold the stage's
 * moderator group, else 403. Only the moderation routes are given the setting.
 */
export function requireModerator(claims: Record<string, unknown> | undefined): void {
  const group = process.env[ENV.moderatorGroup] || DEFAULT_MODERATOR_GROUP;
  if (!groupsOf(claims).includes(group)) throw forbidden('Only moderators may do this');
}
