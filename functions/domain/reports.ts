import { ulid } from 'ulid';
import type { Caller } from '#platform/auth.ts';
import { notFound, validationError } from '#platform/errors.ts';
import { notifyOperators } from '#platform/notify.ts';
import { nowIso } from '#platform/time.ts';
import { getMessage } from '#store/messages.ts';
import { putReport } from '#store/reports.ts';
import { requireMembership } from './membership.ts';
import type { ReportEvidence, ReportRecord } from './model.ts';
import type { CreateReportInput } from './schemas.ts';
import { seesMessage } from './unread.ts';

/**
 * POST /api/chat/reports (CONTRACT §9): a report keeps a copy of the message
 * as the reporter saw it (content or ciphertext, attachments, sender, time), so
 * the evidence survives a later delete; a reporter who cannot see the message
 * gets 404, as if it did not exist. The stack's reports topic hears of it.
 */
export async function createReport(caller: Caller, input: CreateReportInput) {
  const evidence = input.message_id ? await evidenceFor(caller, input.message_id) : null;
  const userId = evidence?.sender_id ?? input.user_id ?? null;
  if (input.user_id && evidence && input.user_id !== evidence.sender_id) {
    throw validationError('user_id: must be the sender of message_id, or be left out');
  }
  if (userId === caller.userId) throw validationError('You cannot report yourself');
  const report: ReportRecord = {
    report_id: ulid(),
    status: 'open',
    reason: input.reason,
    note: input.note ?? null,
    reporter_id: caller.userId,
    user_id: userId,
    created_at: nowIso(),
    evidence,
  };
  await putReport(report);
  await notifyOperators(`New report (${report.reason})`, {
    report_id: report.report_id,
    reason: report.reason,
    reporter_id: report.reporter_id,
    user_id: report.user_id,
    message_id: evidence?.message_id ?? null,
    created_at: report.created_at,
  });
  return { report_id: report.report_id };
}

async function evidenceFor(caller: Caller, messageId: string): Promise<ReportEvidence> {
  const message = await getMessage(messageId);
  if (!message || message.is_deleted || message.is_tombstone) throw notFound('Message');
  const { room, member } = await requireMembership(message.room_id, caller.userId).catch(() => {
    // Not a member: the message does not exist for this caller.
    throw notFound('Message');
  });
  if (!seesMessage(member, room, message.seq)) throw notFound('Message');
  return {
    message_id: message.id,
    room_id: message.room_id,
    sender_id: message.sender_id,
    content: message.content,
    encrypted_content: message.encrypted_content,
    attachments: message.attachments,
    created_at: message.created_at,
  };
}
