import { config } from 'zod/mini';

/**
 * Readable validation messages: zod issues in a client's words. Kept apart from
 * errors.ts so that code which only throws (the $connect authorizer) does not
 * load zod. Importing this module installs the messages for every schema.
 */

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
