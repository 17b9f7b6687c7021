import { ConfigError } from './errors.ts';

/**
 * Bundled in place of `@smithy/core/event-streams` (lib/bundling.ts). The SDK's
 * HTTP protocol loads it with a dynamic import only for operations that stream
 * events (S3 Select, Bedrock, Transcribe…); none of the operations these
 * functions call (DynamoDB, SQS, SNS, @connections, Secrets Manager, S3 object
 * reads, writes and tags) has one, so the real module is ~15 KB of every bundle
 * that never runs. If a future call did reach it, it fails loudly here rather
 * than misbehaving.
 */
const unused = (): never => {
  throw new ConfigError('Event streams are not bundled (lib/bundling.ts)');
};

export const EventStreamSerde = unused;
export const eventStreamSerdeProvider = unused;

/**
 * The S3 client resolves its event-stream marshaller when it is constructed;
 * without one, only an event-stream operation (SelectObjectContent) would fail.
 */
export const resolveEventStreamSerdeConfig = <T>(input: T): T => input;
