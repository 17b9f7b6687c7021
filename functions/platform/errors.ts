import { config } from 'zod/mini';

/**
 * Typed errors in the style of middy's http-errors: each carries the contract's
 * code; one middleware (http.ts / ws.ts) turns them into the envelope. Anything
 * that is not an AppError becomes a plain 500 with no internals.
 */
export const ERROR_STATUS = {
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  CURSOR_EXPIRED: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNPROCESSABLE: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
  }
}

export const validationError = (message: string) => new AppError('VALIDATION_ERROR', message);
export const forbidden = (message = 'Not allowed') => new AppError('FORBIDDEN', message);
export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const conflict = (message: string) => new AppError('CONFLICT', message);

export interface ErrorBody {
  success: false;
  error: { code: ErrorCode; message: string };
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { success: false, error: { code, message } };
}

/** Flattens a zod issue list into one readable line, e.g. `is_read: expected boolean, got string`. */
export function describeIssues(
  issues: readonly { path: PropertyKey[]; message: string }[],
): string {
  return issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** What a value is, in the words of a JSON client. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return typeof value;
}

const UNITS: Record<string, string> = { string: ' characters', array: ' items', set: ' items' };

/**
 * The message of a zod issue that its schema gave no message of its own:
 * what was expected and, for a wrong type, what came instead. zod/mini ships
 * no locale (every issue would read "Invalid input"), and a full locale would
 * weigh on every Lambda bundle; this covers the issues our schemas raise.
 */
export function issueMessage(issue: {
  code?: string;
  input?: unknown;
  [key: string]: unknown;
}): string | undefined {
  const i = issue as Record<string, unknown>;
  const unit = UNITS[String(i.origin)] ?? '';
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return `required (${String(i.expected)})`;
      const got = typeof i.received === 'string' ? i.received : kindOf(issue.input);
      const expected = i.expected === 'int' ? 'integer' : String(i.expected);
      return `expected ${expected}, got ${got}`;
    }
    case 'too_small':
      return i.origin === 'array' && i.minimum === 1
        ? 'must not be empty'
        : `must be at least ${String(i.minimum)}${unit}${i.inclusive === false ? ' (exclusive)' : ''}`;
    case 'too_big':
      return `must be at most ${String(i.maximum)}${unit}${i.inclusive === false ? ' (exclusive)' : ''}`;
    case 'invalid_value':
      return `expected one of ${(i.values as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return `expected ${i.format === 'regex' ? 'the documented format' : `a valid ${String(i.format)}`}`;
    case 'invalid_union':
      return i.discriminator !== undefined && Array.isArray(i.options)
        ? `expected one of ${i.options.map((v) => JSON.stringify(v)).join(', ')}`
        : 'matches none of the accepted shapes';
    case 'unrecognized_keys':
      return `unknown field(s) ${(i.keys as string[]).join(', ')}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(i.divisor)}`;
    default:
      return undefined;
  }
}

// Every schema's issues get these messages unless the schema names its own.
config({ customError: (issue) => issueMessage(issue) });
