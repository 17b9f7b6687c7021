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
  return `Stage "${context.stage}" needs real JWT settings: ${missing.join(' and ')}. Only the ${PLACEHOLDER_STAGE} stage synthesizes with placeholders.`;
}
