import type { Grant } from '#local/deployed/policy.ts';
import { LIMITS } from '#platform/limits.ts';

/**
 * Grants `npm run test:deployed` saw no call use, kept on purpose: each is
 * reached by its function's code on a path the e2e suite does not drive (an
 * error, a repair, a retry, a race, a function no test triggers), or drives
 * only in some runs (timing). run.ts prints them with the reason, fails a
 * whole-suite run on an unused grant that is not here (remove it from
 * functions/access.ts, or explain it here), and lists reasons left for grants
 * that no longer exist. A reason for a grant some run did use stays: the path
 * is real, only not every run takes it.
 *
 * Keyed `<handler> <action> <resource label>` (grantLabel).
 */

const GONE_CONNECTION =
  'a post that answers 410 removes that connection (delivery.ts; its item deleted): only for a socket gone without its $disconnect';
const WS_CLOSE =
  'closes the socket of an expired token or a suspended user after answering its frame (platform/ws.ts); e2e sends those frames to other actions';
const BIG_ROOM = `a room of more than ${LIMITS.inlineFanOutMembers} other members is fanned out through the queue (messages.ts deliverMessage); e2e's biggest rooms stay under it`;
const MISSED_MEMBERS =
  "members whose post failed are queued for offline delivery by the send itself (the stream's outbox queues those with no connection)";
const FAN_OUT =
  'the big-room fan-out consumer: runs only for rooms over LIMITS.inlineFanOutMembers, which e2e does not build (test/integration/big-room-consumer.test.ts runs it on the source handlers)';
const SUSPEND_LIVE =
  "closes the suspended user's open sockets and removes them (connectionGone, then the presence check); e2e suspends through this route only users with no socket open";
const OWN_SOCKETS =
  "tells the caller's own open sockets the new unread counts; e2e calls it with none open";
const SWEEP_BACKUP =
  "the sweeper's backup of a lost presence check (checkOffline: the user's rooms, the members' maps, the status broadcast); in e2e the queued check always runs first";
const ERASE_DEVICES =
  "removes the push endpoints of an erased user's devices; the e2e erasures with push on have no device registered";
const SLOT_RECHECK =
  'the HEAD of a file sent while its upload slot was still open, once the slot has expired (attachment-release.ts); slots outlive the e2e run';
const GAP_FILLED =
  'a tombstone that goes into a still-empty number updates the deleted seqs and the head; in e2e every number was stored by the time the check ran';
const SYNC_PENDING =
  'messages still queued for the user when a sync runs are replayed and their pending items deleted; in e2e the flush has emptied them first';

const FILL_GAPS =
  'the gap consumer runs only when a send took a number and did not store it (a failed or raced send): some e2e runs make one, some do not';
const FLUSH_RETRY =
  'reads the new connection only when its flush was blocked (the socket still inside $connect), to decide on a retry: timing, some runs only';
const LIVE_MEMBERS =
  "posts to members' open sockets (the stream: those opened around the message): whether one is open at that moment is timing, some runs only";

/** Reason → keys, turned into key → reason (a key twice is a mistake). */
function explain(groups: Record<string, readonly string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [reason, keys] of Object.entries(groups))
    for (const key of keys) {
      if (out[key]) throw new Error(`survivors.ts: ${key} is explained twice`);
      out[key] = reason;
    }
  return out;
}

export const SURVIVORS: Readonly<Record<string, string>> = explain({
  // domain/delivery.ts: a post that answers 410 removes that connection (its item
  // deleted). The e2e suite has a socket go away unannounced in a few flows only.
  [GONE_CONNECTION]: [
    'http/add-members',
    'http/archive-room',
    'http/batch-read-status',
    'http/block-user',
    'http/clear-messages',
    'http/create-room',
    'http/delete-message',
    'http/forward-message',
    'http/read-status',
    'http/send-message',
    'http/upload-key',
    'queues/flush-pending',
    'queues/presence-check',
    'ws/mark-messages-seen',
    'ws/room-archive',
    'ws/typing',
  ].map((h) => `${h} dynamodb:DeleteItem table`),
  // platform/ws.ts: a frame on a socket whose token expired, or of a suspended user,
  // is answered and the socket closed. e2e sends those frames to other actions.
  [WS_CLOSE]: ['ws/default', 'ws/mark-messages-seen', 'ws/sync', 'ws/typing'].map(
    (h) => `${h} execute-api:ManageConnections @connections DELETE`,
  ),
  [BIG_ROOM]: [
    'http/send-message sqs:SendMessage queue fan-out',
    'http/forward-message sqs:SendMessage queue fan-out',
    'ws/send-message sqs:SendMessage queue fan-out',
  ],
  [MISSED_MEMBERS]: [
    'http/send-message sqs:SendMessage queue offline-delivery',
    'http/forward-message sqs:SendMessage queue offline-delivery',
    'ws/send-message sqs:SendMessage queue offline-delivery',
  ],
  [FAN_OUT]: [
    'queues/fan-out dynamodb:GetItem table',
    'queues/fan-out dynamodb:UpdateItem table',
    'queues/fan-out dynamodb:DeleteItem table',
    'queues/fan-out execute-api:ManageConnections @connections POST',
    'queues/fan-out sqs:SendMessage queue offline-delivery',
  ],
  [SUSPEND_LIVE]: [
    'http/suspend-user dynamodb:DeleteItem table',
    'http/suspend-user execute-api:ManageConnections @connections DELETE',
    'http/suspend-user sqs:SendMessage queue presence-check',
  ],
  [OWN_SOCKETS]: ['http/batch-read-status execute-api:ManageConnections @connections POST'],
  [SWEEP_BACKUP]: [
    'schedules/presence-sweeper dynamodb:BatchGetItem table',
    'schedules/presence-sweeper dynamodb:Query table',
    'schedules/presence-sweeper execute-api:ManageConnections @connections POST',
  ],
  [ERASE_DEVICES]: [
    'queues/account-erase sns:DeleteEndpoint *',
    'queues/account-erase sns:GetEndpointAttributes *',
  ],
  [SLOT_RECHECK]: ['queues/attachment-storage s3:GetObject rooms/*'],
  [GAP_FILLED]: ['queues/fill-gaps dynamodb:UpdateItem table'],
  [FILL_GAPS]: [
    'queues/fill-gaps dynamodb:BatchGetItem table',
    'queues/fill-gaps dynamodb:PutItem table',
  ],
  [FLUSH_RETRY]: ['queues/flush-pending dynamodb:GetItem table'],
  [LIVE_MEMBERS]: [
    'http/forward-message execute-api:ManageConnections @connections POST',
    'streams/room-activity execute-api:ManageConnections @connections POST',
  ],
  [SYNC_PENDING]: ['ws/sync dynamodb:BatchWriteItem table'],
});

/** A grant's resource, short and the same in every local cloud (table name and ids vary). */
export function grantLabel(g: Pick<Grant, 'resource'>): string {
  const r = g.resource;
  if (r === '*') return '*';
  const index = /:table\/[^/]+\/index\/([^/]+)$/.exec(r);
  if (index) return `index/${index[1]}`;
  if (/^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/[^/]+$/.test(r)) return 'table';
  const connections = /\/(GET|POST|DELETE)\/@connections\//.exec(r);
  if (connections) return `@connections ${connections[1]}`;
  const queue = /^arn:[^:]+:sqs:[^:]*:[^:]*:(.+)$/.exec(r);
  if (queue) return `queue ${queue[1]}`;
  const topic = /^arn:[^:]+:sns:[^:]*:[^:]*:(.+)$/.exec(r);
  if (topic) return `topic ${topic[1]}`;
  if (r.startsWith('arn:aws:s3:::')) return r.slice(r.indexOf('/') + 1) || 'bucket';
  if (r.includes(':secretsmanager:')) return 'secret';
  return r;
}

export const survivorKey = (g: Pick<Grant, 'handler' | 'action' | 'resource'>) =>
  `${g.handler} ${g.action} ${grantLabel(g)}`;
