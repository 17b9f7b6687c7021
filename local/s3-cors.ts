import type { IncomingHttpHeaders } from 'node:http';
import { S3Error } from './s3-xml.ts';

/**
 * CORS as S3 answers it for the deployed attachments bucket's one rule:
 * GET, HEAD and POST from the allowed origins, any request header, ETag
 * exposed, preflight cached 3000 s. Origins are matched as S3's
 * AllowedOrigins are: `*`, exact, or with one `*` wildcard.
 */
const METHODS = ['GET', 'HEAD', 'POST'];

export type Headers = Record<string, string | string[]>;

function allowedOrigin(allowed: readonly string[], origin: string): string | undefined {
  for (const rule of allowed) {
    if (rule === '*') return '*';
    if (rule === origin) return origin;
    const star = rule.indexOf('*');
    if (star < 0) continue;
    const [head, tail] = [rule.slice(0, star), rule.slice(star + 1)];
    if (origin.length >= rule.length - 1 && origin.startsWith(head) && origin.endsWith(tail))
      return origin;
  }
  return undefined;
}

const ruleHeaders = (origin: string): Headers => ({
  'access-control-allow-origin': origin,
  'access-control-allow-methods': METHODS.join(', '),
  'access-control-expose-headers': 'ETag',
  'access-control-max-age': '3000',
  ...(origin === '*' ? {} : { 'access-control-allow-credentials': 'true' }),
});

export function corsFor(allowed: readonly string[], request: IncomingHttpHeaders) {
  const origin = request.origin;
  const match = origin ? allowedOrigin(allowed, origin) : undefined;
  return {
    /** What every answer to a `method` request carries (S3 varies them on these). */
    answer: (method: string): Headers => ({
      vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
      ...(match && METHODS.includes(method) ? ruleHeaders(match) : {}),
    }),
    /** The answer to a preflight OPTIONS; throws S3's refusal. */
    preflight(resourceType: 'OBJECT' | 'BUCKET'): Headers {
      const wanted = request['access-control-request-method'];
      if (!origin)
        throw new S3Error(
          400,
          'BadRequest',
          'Insufficient information. Origin request header needed.',
        );
      if (!wanted)
        throw new S3Error(400, 'BadRequest', 'Invalid Access-Control-Request-Method: null');
      if (!match || !METHODS.includes(wanted))
        throw new S3Error(
          403,
          'AccessForbidden',
          "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
          { Method: wanted, ResourceType: resourceType },
        );
      const asked = request['access-control-request-headers'];
      return {
        ...ruleHeaders(match),
        ...(asked ? { 'access-control-allow-headers': asked } : {}),
        'content-length': '0',
      };
    },
  };
}
