/**
 * The one error family, in the style of middy's http-errors: each error carries
 * the contract's code, its status, whether its message may reach the client
 * (`expose`: 4xx yes, 5xx no) and the `cause` it wraps. `toAppError` is the one
 * translation; HTTP (http.ts), WebSocket actions and the connect/disconnect
 * lifecycle (ws.ts) all answer through it. Anything that is not an AppError
 * becomes a plain 500 with no internals.
 */
export const ERROR_STATUS = {
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  /** A block stands between the two users (CONTRACT §9). */
  BLOCKED: 403,
  /** A moderator has suspended the caller (CONTRACT §9). */
  SUSPENDED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  CURSOR_EXPIRED: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNPROCESSABLE: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface AppErrorOptions {
  /** RATE_LIMITED: seconds until a retry may pass (the Retry-After header). */
  retryAfterSeconds?: number;
  /** Whether the message may reach the client; by default only below 500. */
  expose?: boolean;
  cause?: unknown;
}

export class AppError extends Error {
  readonly status: number;
  readonly expose: boolean;
  readonly retryAfterSeconds?: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
    this.expose = options.expose ?? this.status < 500;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** What the client is told: the message when exposed, else nothing internal. */
  get publicMessage(): string {
    return this.expose ? this.message : 'Internal server error';
  }
}

/** A missing or invalid token (401), in the words API Gateway's authorizers use. */
export class InvalidTokenError extends AppError {
  constructor(cause?: unknown) {
    super('UNAUTHORIZED', 'Unauthorized', { cause });
    this.name = 'InvalidTokenError';
  }

  override get publicMessage(): string {
    return 'A valid bearer token is required';
  }
}

/** Misconfiguration (environment, rate-limit rules, route table): fails a cold start or a synth. */
export class ConfigError extends AppError {
  constructor(message: string, cause?: unknown) {
    super('INTERNAL', message, { cause });
    this.name = 'ConfigError';
  }
}

/** A fault the store could not get past (e.g. DynamoDB kept returning unprocessed items). */
export class StoreError extends AppError {
  constructor(message: string, cause?: unknown) {
    super('INTERNAL', message, { cause });
    this.name = 'StoreError';
  }
}

/** A cursor or page token this server did not issue for this list and user (400). */
export class InvalidCursor extends AppError {
  constructor(field: string, cause?: unknown) {
    super(
      'VALIDATION_ERROR',
      `Invalid query: ${field}: is not a ${field} this server issued for this list and user`,
      { cause },
    );
    this.name = 'InvalidCursor';
  }
}

/** What to log for a 500: the thrown value itself when it was wrapped. */
export const loggedError = (error: AppError): Error =>
  error.cause instanceof Error ? error.cause : error;

/** The one translation of anything thrown: an AppError as it is, anything else a 500 wrapping it. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return new AppError('INTERNAL', 'Internal server error', { cause: error });
}

export const validationError = (message: string) => new AppError('VALIDATION_ERROR', message);
export const forbidden = (message = 'Not allowed') => new AppError('FORBIDDEN', message);
export const blocked = (message: string) => new AppError('BLOCKED', message);
export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const conflict = (message: string) => new AppError('CONFLICT', message);

export interface ErrorBody {
  success: false;
  error: { code: ErrorCode; message: string };
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { success: false, error: { code, message } };
}
