import { ConfigError } from './errors.ts';

/**
 * Bundled in place of `@smithy/core/event-streams` (lib/bundling.ts). The SDK's
 * HTTP protocol loads it with a dynamic import only for operations that stream
 * events (S3 Select, Bedrock, Transcribe…); none of the services these functions
 * call (DynamoDB, SQS, SNS, @connections, Secrets Manager) has one, so the real
 * module is ~15 KB of every bundle that never runs. If a future call did reach
 * it, it fails loudly here rather than misbehaving.
 */
const unused = (): never => {
  throw new ConfigError('Event streams are not bundled (lib/bundling.ts)');
};

export const EventStreamSerde = unused;
export const eventStreamSerdeProvider = unused;
