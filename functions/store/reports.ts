import type { ReportRecord } from '#model';
import { StoreError } from '#platform/errors.ts';
import type { Item, Key } from './batch.ts';
import { putIf } from './conditional.ts';

/**
 * Reports (README "Table design"): pk REPORT#<report_id>, sk REPORT, the
 * report with its evidence (a copy of the message as it was). Listed for
 * moderators through the GSI: gsi1pk `REPORTS#<status>`, gsi1sk
 * `<created_at>#<report_id>`, oldest first; resolving a report moves it to
 * `REPORTS#closed`. Reports are few (a `reports` rate limit per user), so one
 * partition per status holds them.
 */
const reportKey = (id: string): Key => ({ pk: `REPORT#${id}`, sk: 'REPORT' });
const statusPk = (status: ReportRecord['status']) => `REPORTS#${status}`;

export async function putReport(report: ReportRecord): Promise<void> {
  const put = await putIf({
    Item: {
      ...reportKey(report.report_id),
      entity: 'report',
      ...report,
      gsi1pk: statusPk(report.status),
      gsi1sk: `${report.created_at}#${report.report_id}`,
    },
    ConditionExpression: 'attribute_not_exists(pk)',
  });
  if (!put) throw new StoreError(`Report id ${report.report_id} is taken`);
}

export function reportFromItem(item: Item): ReportRecord {
  return {
    report_id: item.report_id as string,
    status: item.status === 'closed' ? 'closed' : 'open',
    reason: item.reason as ReportRecord['reason'],
    note: (item.note as string | null | undefined) ?? null,
    reporter_id: item.reporter_id as string,
    user_id: (item.user_id as string | null | undefined) ?? null,
    created_at: item.created_at as string,
    evidence: (item.evidence as ReportRecord['evidence'] | undefined) ?? null,
  };
}
