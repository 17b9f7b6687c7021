import { AppError } from '#platform/errors.ts';

type Item = Record<string, unknown>;

/** Opaque pagination cursors: base64url of the Query's LastEvaluatedKey. */
export function encodeCursor(key: Record<string, unknown> | undefined): string | null {
  return key ? Buffer.from(JSON.stringify(key), 'utf8').toString('base64url') : null;
}

/** `expected` pins key attributes, so a cursor cannot wander into another partition. */
export function decodeCursor(
  cursor: string | undefined,
  expected: Record<string, string> = {},
): Record<string, unknown> | undefined {
  if (!cursor) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const entries = Object.entries(value);
      const pinned = Object.entries(expected).every(([k, v]) => (value as Item)[k] === v);
      if (pinned && entries.length > 0 && entries.every(([, v]) => typeof v === 'string')) {
        return value as Record<string, unknown>;
      }
    }
  } catch {
    // fall through to the validation error
  }
  throw new AppError('VALIDATION_ERROR', 'Invalid cursor');
}
