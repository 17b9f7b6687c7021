import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  PutCommand,
  type PutCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ddb, tableName } from '#platform/clients.ts';
import { StoreError } from '#platform/errors.ts';

/**
 * Conditional writes whose condition is expected to fail sometimes (a max
 * that is already reached, an item that already exists). The failure is an
 * answer, not an error: these return it as a value; anything else is a
 * StoreError wrapping what DynamoDB threw (its `cause`).
 */
const isConditionFailure = (error: unknown) =>
  (error as Error).name === 'ConditionalCheckFailedException';

/** The item's attributes after the update (`{}` unless asked for), or undefined when the condition failed. */
export async function updateIf(
  input: Omit<UpdateCommandInput, 'TableName'>,
): Promise<Record<string, unknown> | undefined> {
  try {
    const out = await ddb().send(new UpdateCommand({ TableName: tableName(), ...input }));
    return out.Attributes ?? {};
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw new StoreError('Conditional update failed', error);
  }
}

/** True when the item was written, false when the condition failed. */
export async function putIf(input: Omit<PutCommandInput, 'TableName'>): Promise<boolean> {
  try {
    await ddb().send(new PutCommand({ TableName: tableName(), ...input }));
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw new StoreError('Conditional put failed', error);
  }
}

/** True when the transaction committed, false when one of its conditions failed. */
export async function transactIf(
  items: TransactWriteCommandInput['TransactItems'],
): Promise<boolean> {
  try {
    await ddb().send(new TransactWriteCommand({ TransactItems: items }));
    return true;
  } catch (error) {
    if (
      error instanceof TransactionCanceledException &&
      (error.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed')
    ) {
      return false;
    }
    throw new StoreError('Conditional transaction failed', error);
  }
}
