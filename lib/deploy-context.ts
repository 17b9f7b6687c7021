/**
 * What a deployable stage must be given. Only the local stage (cdk.json's
 * default) synthesizes with the placeholders in cdk.json, so `cdk synth` works on
 * a fresh clone; every other stage, tests' included, must name a real-looking
 * identity provider and audience, or every token would be refused (a placeholder
 * issuer) or a token issued for another app accepted (no audience).
 */
export const PLACEHOLDER_STAGE = 'local';

const PLACEHOLDER_HOST = /(^|\.)example\.(com|org|net)$|^localhost$|^127\.0\.0\.1$/;

function isPlaceholderIssuer(issuer: string): boolean {
  try {
    const url = new URL(issuer);
    return url.protocol !== 'https:' || PLACEHOLDER_HOST.test(url.hostname);
  } catch {
    return true;
  }
}

/** One line saying what to set, or undefined when the context can be deployed. */
export function deployContextProblem(context: {
  stage: string;
  jwtIssuer: string;
  jwtAudience: string;
}): string | undefined {
  if (context.stage === PLACEHOLDER_STAGE) return undefined;
  const missing: string[] = [];
  if (!context.jwtIssuer || isPlaceholderIssuer(context.jwtIssuer))
    missing.push(
      `-c jwtIssuer=<your identity provider's https issuer URL> (now ${context.jwtIssuer ? `the placeholder ${context.jwtIssuer}` : 'empty'})`,
    );
  if (!context.jwtAudience.trim())
    missing.push('-c jwtAudience=<the aud your app tokens carry, e.g. its client id> (now empty)');
  if (missing.length === 0) return undefined;
  return `Stage "${context.stage}" needs real JWT settings: ${missing.join(' and ')}, or -c auth=cognito for a user pool in the stack. Only the ${PLACEHOLDER_STAGE} stage synthesizes with placeholders.`;
}

/**
 * With `-c auth=cognito` the stack's own user pool issues the tokens: an issuer
 * or audience of one's own given as well is a mistake (which one should win?).
 */
export function cognitoContextProblem(context: {
  jwtIssuer: string;
  jwtAudience: string;
}): string | undefined {
  const own = [
    context.jwtIssuer &&
      !isPlaceholderIssuer(context.jwtIssuer) &&
      `-c jwtIssuer=${context.jwtIssuer}`,
    context.jwtAudience.trim() && `-c jwtAudience=${context.jwtAudience}`,
  ].filter(Boolean);
  if (own.length === 0) return undefined;
  return `-c auth=cognito makes the stack's user pool the issuer; drop ${own.join(' and ')} or use -c auth=issuer.`;
}

/**
 * `-c corsOrigins=https://app.acme.io,https://admin.acme.io`: the browser origins
 * the HTTP API and the attachment bucket answer; `*` (the default) allows any,
 * which suits mobile apps (they send no Origin). Answers the list or a one-line problem.
 */
export function corsOriginsFromContext(value: string): string[] | string {
  const origins = value
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  if (origins.length === 0) return ['*'];
  const bad = origins.filter((o) => o !== '*' && !/^https?:\/\/[^/\s]+$/.test(o));
  if (bad.length > 0)
    return `-c corsOrigins takes "*" or origins like https://app.acme.io, comma-separated, without a path (got ${bad.map((b) => `"${b}"`).join(', ')})`;
  return origins;
}
