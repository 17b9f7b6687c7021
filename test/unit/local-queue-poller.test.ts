import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { useRuntime } from '#local/lambda-runtime.ts';
import { startQueuePoller } from '#local/queue-poller.ts';
import { eventually } from '../support/chat-client.ts';

/** An SQS endpoint whose DeleteMessageBatch always fails, with a consumer that always succeeds. */
describe('the local queue poller', () => {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    const action = String(req.headers['x-amz-target']).replace('AmazonSQS.', '');
    calls.push(action);
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/x-amz-json-1.0');
      if (action === 'ReceiveMessage') {
        const Body = '{}';
        const MD5OfBody = createHash('md5').update(Body).digest('hex');
        res.end(
          JSON.stringify({ Messages: [{ MessageId: 'm1', ReceiptHandle: 'r1', Body, MD5OfBody }] }),
        );
      } else {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#InvalidAddress', message: 'no' }));
      }
    });
  });
  afterAll(() => {
    useRuntime(undefined);
    server.close();
  });

  it('logs a failed round and polls on, never rejecting (which ends npm start)', async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    useRuntime({ invoke: async () => undefined, warm: async () => undefined });
    const unhandled: unknown[] = [];
    const onUnhandled = (error: unknown) => unhandled.push(error);
    process.on('unhandledRejection', onUnhandled);
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const poller = startQueuePoller({
      endpoint,
      queue: {
        id: 'q',
        env: 'Q_URL',
        consumer: 'queues/q',
        batchSize: 10,
        maxReceiveCount: 5,
        maxConcurrency: 2,
      },
      queueUrl: `${endpoint}/000000000000/q`,
      duplicate: false,
    });
    try {
      // Deletes fail, and each poller keeps receiving after them.
      await eventually(async () => {
        const deletes = calls.filter((c) => c === 'DeleteMessageBatch').length;
        expect(deletes).toBeGreaterThanOrEqual(3);
        expect(calls.lastIndexOf('ReceiveMessage')).toBeGreaterThan(
          calls.indexOf('DeleteMessageBatch'),
        );
      }, 10_000);
      expect(unhandled).toEqual([]);
    } finally {
      await poller.stop();
      process.off('unhandledRejection', onUnhandled);
      log.mockRestore();
    }
  });
});
