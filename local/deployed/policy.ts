import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { DeployedFunction, PolicyDocument, PolicyStatement } from './assembly.ts';

/**
 * Judges each recorded AWS call against the calling function's synthesized IAM
 * policies with a real policy evaluator (@cloud-copilot/iam-simulate, which
 * knows every action's resource types from AWS's Service Authorization
 * Reference), not a hand-written matcher.
 *
 * Only identity policies are evaluated: every resource is in the same account,
 * where an identity allow suffices, and the resource policies (queues' TLS-only
 * denies) hold for any call an AWS SDK makes over HTTPS.
 */
export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

export interface AwsCall {
  /** Logical id of the function that made the call. */
  fn: string;
  service: string;
  /** The IAM action, e.g. dynamodb:PutItem (a TransactWriteItems is one call per item kind). */
  action: string;
  /** The resource ARN as it would be on AWS. */
  resource: string;
}

export interface Judged extends AwsCall {
  decision: Decision;
  /**
   * The resource the call was judged on: always the real ARN. An action AWS
   * authorizes without a resource type (SNS CreatePlatformEndpoint, Publish to
   * a TargetArn, endpoint attributes) is judged on `*` by the evaluator, but
   * only against the statements granted on `Resource: "*"`: a grant on the
   * reports topic does not let a function publish to a device endpoint.
   */
  evaluated: string;
  error?: string;
}

/** Errors iam-simulate gives when the action takes no resource of that type: AWS then evaluates `*`. */
const WILDCARD_ERRORS = /must\.use\.wildcard|no\.resource\.types|resource.*type/i;

/** What the recorder reports for a request it could not turn into IAM action and ARN. */
export const UNPARSED_ACTION = '(unparsed request)';

/** A refused call for a request that could not be parsed: never let through unjudged. */
export function unparsed(
  fn: string | undefined,
  service: string,
  request: string,
  why = 'no IAM action and resource ARN could be read from it',
): Judged {
  return {
    fn: fn ?? '(unsigned)',
    service,
    action: UNPARSED_ACTION,
    resource: request,
    evaluated: request,
    decision: 'ImplicitlyDenied',
    error: `unparsed request: ${why}`,
  };
}

/** A resource the judge accepts: a full ARN with no wildcard (the real resource of one call). */
export function isRealArn(resource: string): boolean {
  return (
    /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+/.test(resource) && !/[*?]/.test(resource)
  );
}

/** An Allow on `Resource: "*"`: what AWS requires of an action with no resource type. */
const grantsEverything = (s: PolicyStatement) =>
  s.NotResource === undefined && [s.Resource ?? []].flat().includes('*');

/** Whether a statement's Resource (or NotResource) covers this ARN. */
export function statementCovers(statement: PolicyStatement, arn: string): boolean {
  if (statement.NotResource !== undefined)
    return ![statement.NotResource].flat().some((r) => glob(r).test(arn));
  return [statement.Resource ?? []].flat().some((r) => glob(r).test(arn));
}

export function policyJudge(functions: readonly DeployedFunction[], account: string) {
  const byId = new Map(functions.map((f) => [f.logicalId, f]));
  const cache = new Map<string, Promise<Judged>>();

  async function simulate(
    policies: DeployedFunction['policies'],
    fn: string,
    action: string,
    resource: string,
  ): Promise<{ decision: Decision; error?: string }> {
    const response = await runSimulation(
      {
        identityPolicies: policies.map((p) => ({
          name: p.name,
          policy: p.document as unknown as Record<string, unknown>,
        })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        request: {
          action,
          principal: `arn:aws:iam::${account}:role/${fn}`,
          resource: { accountId: account, resource },
          contextVariables: {},
        },
      },
      {},
    );
    if (response.resultType === 'error') {
      return { decision: 'ImplicitlyDenied', error: JSON.stringify(response.errors) };
    }
    return { decision: response.overallResult as Decision };
  }

  async function judgeUncached(call: AwsCall): Promise<Judged> {
    const fn = byId.get(call.fn);
    const refused = (error: string): Judged => ({
      ...call,
      decision: 'ImplicitlyDenied',
      evaluated: call.resource,
      error,
    });
    if (!fn) return refused('unknown function');
    // `*`, an empty or a partial resource is a request the recorder did not read:
    // the evaluator would allow it wherever the action is granted on anything.
    if (!isRealArn(call.resource)) return refused(`not a resource ARN: "${call.resource}"`);
    const result = await simulate(fn.policies, fn.logicalId, call.action, call.resource);
    if (!result.error || !WILDCARD_ERRORS.test(result.error)) {
      return { ...call, ...result, evaluated: call.resource };
    }
    // The action has no resource type for this ARN (SNS endpoint actions, Publish
    // to a TargetArn): AWS matches it only by a statement whose Resource is `*`,
    // not by one scoped to some other resource (the evaluator, given `*`, would
    // take any statement granting the action). So: the Allow statements on `*`,
    // and every Deny that covers the real ARN, evaluated on `*`.
    const covering = fn.policies.map((p) => ({
      name: p.name,
      document: {
        ...p.document,
        Statement: p.document.Statement.filter((s) =>
          s.Effect === 'Allow' ? grantsEverything(s) : statementCovers(s, call.resource),
        ),
      },
    }));
    const onWildcard = await simulate(covering, fn.logicalId, call.action, '*');
    return { ...call, ...onWildcard, evaluated: call.resource };
  }

  return {
    judge(call: AwsCall): Promise<Judged> {
      const key = `${call.fn} ${call.action} ${call.resource}`;
      let judged = cache.get(key);
      if (!judged) {
        judged = judgeUncached(call);
        cache.set(key, judged);
      }
      return judged;
    },
  };
}

export interface Grant {
  fn: string;
  handler: string;
  action: string;
  resource: string;
  /** Used by the Lambda service on the function's behalf (event source polling, on-failure destination, tracing), not by its code. */
  service: boolean;
}

/** Every (action, resource) pair each function's Allow statements grant. */
export function grantsOf(fn: DeployedFunction, serviceResources: ReadonlySet<string>): Grant[] {
  const out: Grant[] = [];
  for (const { document } of fn.policies) {
    for (const s of (document as PolicyDocument).Statement) {
      if (s.Effect !== 'Allow') continue;
      for (const action of [s.Action].flat()) {
        for (const resource of [s.Resource].flat()) {
          const service =
            action.startsWith('xray:') ||
            action === 'dynamodb:ListStreams' ||
            serviceResources.has(resource) ||
            [...serviceResources].some((r) => resource.startsWith(`${r}/`));
          out.push({ fn: fn.logicalId, handler: fn.handler, action, resource, service });
        }
      }
    }
  }
  return out;
}

const glob = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    'i',
  );

/** Grants no allowed call of that function fell under (the report of what could be removed). */
export function unusedGrants(grants: readonly Grant[], calls: readonly Judged[]): Grant[] {
  return grants.filter(
    (g) =>
      !calls.some(
        (c) =>
          c.fn === g.fn &&
          c.decision === 'Allowed' &&
          glob(g.action).test(c.action) &&
          glob(g.resource).test(c.evaluated),
      ),
  );
}
