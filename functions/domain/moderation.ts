import { ulid } from 'ulid';
import type { Caller } from '#platform/auth.ts';
import { conflict, notFound, validationError } from '#platform/errors.ts';
import { forgetSuspension } from '#platform/suspension.ts';
import { nowIso } from '#platform/time.ts';
import { listAuditEntries, putAuditEntry } from '#store/audit.ts';
import { openCursor, sealCursor } from '#store/cursor.ts';
import { getMessage } from '#store/messages.ts';
import {
  closeReport,
  getReport,
  reopenReport,
  listReports as storeListReports,
} from '#store/reports.ts';
import { getRoom } from '#store/rooms.ts';
import { deleteSuspension, putSuspension } from '#store/suspensions.ts';
import { closeAllConnections } from './close-connections.ts';
import { deleteForEveryone } from './messages.ts';
import type { AuditEntry, ReportRecord, ReportResolution, SuspensionRecord } from './model.ts';
import type { ResolveReportInput, SuspensionInput } from './schemas.ts';
import { reportView } from './views.ts';

/**
 * The moderator's side of CONTRACT §9: the reports to act on, their
 * resolution, suspensions, and the audit log of every action (who, what, when,
 * why). Who is a moderator is decided once, by the http wrapper
 * (platform/moderators.ts), before any of this runs.
 */

interface Page {
  limit: number;
  cursor?: string | undefined;
}

/** A page position: the Query's LastEvaluatedKey, sealed for this moderator and list. */
function startOf(purpose: string, caller: Caller, cursor: string | undefined) {
  if (!cursor) return undefined;
  const start = openCursor(purpose, caller.userId, cursor);
  if (!start || typeof start !== 'object' || Array.isArray(start))
    throw validationError('Invalid query: cursor: is not a cursor of this list');
  return start as Record<string, unknown>;
}

const nextCursor = (purpose: string, caller: Caller, next: Record<string, unknown> | undefined) =>
  next ? sealCursor(purpose, caller.userId, next) : null;

/** GET /moderation/reports: open (or closed) reports, oldest first. */
export async function listReports(
  caller: Caller,
  query: Page & { status: ReportRecord['status'] },
) {
  const purpose = `reports:${query.status}`;
  const page = await storeListReports(
    query.status,
    query.limit,
    startOf(purpose, caller, query.cursor),
  );
  return {
    reports: page.reports.map(reportView),
    next_cursor: nextCursor(purpose, caller, page.next),
  };
}

/** GET /moderation/audit: every moderator action, newest first. */
export async function listAudit(caller: Caller, query: Page) {
  const page = await listAuditEntries(query.limit, startOf('audit', caller, query.cursor));
  return { entries: page.entries, next_cursor: nextCursor('audit', caller, page.next) };
}

/**
 * POST /moderation/reports/:id/resolve. The report is closed first, on the
 * condition that it is open, so exactly one moderator's resolution acts on it
 * (another gets 409); should the action fail, the report is opened again.
 */
export async function resolveReport(caller: Caller, reportId: string, input: ResolveReportInput) {
  const report = await getReport(reportId);
  if (!report) throw notFound('Report');
  if (input.action === 'remove_message' && !report.evidence)
    throw validationError('action: this report names no message; dismiss it or suspend the user');
  if (input.action === 'suspend_user' && !report.user_id)
    throw validationError('action: this report names no user to suspend');
  const resolution: ReportResolution = {
    action: input.action,
    moderator_id: caller.userId,
    note: input.note ?? null,
    resolved_at: nowIso(),
  };
  if (report.status === 'closed' || !(await closeReport(reportId, resolution)))
    throw conflict(`Report ${reportId} is already resolved`);
  try {
    if (input.action === 'remove_message') await removeMessage(report.evidence!);
    if (input.action === 'suspend_user')
      await suspend({
        user_id: report.user_id!,
        reason: input.note || `Report ${reportId}: ${report.reason}`,
        until: null,
        suspended_by: caller.userId,
        suspended_at: resolution.resolved_at,
      });
  } catch (error) {
    await reopenReport(reportId, resolution);
    throw error;
  }
  await audit(caller, input.action, {
    user_id: report.user_id,
    report_id: reportId,
    message_id: report.evidence?.message_id ?? null,
    note: resolution.note,
  });
  return { report_id: reportId, status: 'closed' as const, resolution };
}

/**
 * Deletes the reported message for everyone, as its sender could: members who
 * could see it get `message-deleted` with `removed_by: "moderator"`. One already
 * deleted, or gone with its room, has nothing left to remove.
 */
async function removeMessage(evidence: NonNullable<ReportRecord['evidence']>) {
  const [message, room] = await Promise.all([
    getMessage(evidence.message_id),
    getRoom(evidence.room_id),
  ]);
  if (!message || !room || message.is_deleted || message.is_tombstone) return;
  await deleteForEveryone(room, message, 'moderator');
}

/** PUT /moderation/users/:user_id/suspension. */
export async function suspendUser(caller: Caller, userId: string, input: SuspensionInput) {
  if (userId === caller.userId) throw validationError('user_id: you cannot suspend yourself');
  const suspension: SuspensionRecord = {
    user_id: userId,
    reason: input.reason,
    until: input.until ? new Date(input.until).toISOString() : null,
    suspended_by: caller.userId,
    suspended_at: nowIso(),
  };
  await suspend(suspension);
  await audit(caller, 'suspend', { user_id: userId, note: suspension.reason });
  return suspension;
}

/** DELETE /moderation/users/:user_id/suspension: idempotent. */
export async function liftSuspension(caller: Caller, userId: string) {
  const lifted = await deleteSuspension(userId);
  forgetSuspension(userId);
  if (lifted) await audit(caller, 'lift_suspension', { user_id: userId });
  return { user_id: userId, is_suspended: false as const };
}

/**
 * Stores the suspension, then closes the user's sockets: `$connect` stores its
 * connection before it reads the suspension, so a socket opened meanwhile is
 * either closed here or refused there (ws/connect.ts).
 */
async function suspend(suspension: SuspensionRecord) {
  await putSuspension(suspension);
  forgetSuspension(suspension.user_id);
  await closeAllConnections(suspension.user_id);
}

async function audit(
  caller: Caller,
  action: AuditEntry['action'],
  about: Partial<Pick<AuditEntry, 'user_id' | 'report_id' | 'message_id' | 'note'>>,
) {
  await putAuditEntry({
    audit_id: ulid(),
    moderator_id: caller.userId,
    action,
    user_id: about.user_id ?? null,
    report_id: about.report_id ?? null,
    message_id: about.message_id ?? null,
    note: about.note ?? null,
    at: nowIso(),
  });
}
