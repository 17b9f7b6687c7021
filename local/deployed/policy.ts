import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { DeployedFunction, PolicyDocument } from './assembly.ts';

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
   * The resource the evaluator used: `*` for actions that AWS authorizes
   * without a resource (SNS CreatePlatformEndpoint, Publish to a TargetArn).
   */
  evaluated: string;
  error?: string;
}

/** Errors iam-simulate gives when the action takes no resource of that type: AWS then evaluates `*`. */
const WILDCARD_ERRORS = /must\.use\.wildcard|no\.resource\.types|resource.*type/i;

export function policyJudge(functions: readonly DeployedFunction[], account: string) {
  const byId = new Map(functions.map((f) => [f.logicalId, f]));
  const cache = new Map<string, Promise<Judged>>();

  async function simulate(
    fn: DeployedFunction,
    action: string,
    resource: string,
  ): Promise<{ decision: Decision; error?: string }> {
    const response = await runSimulation(
      {
        identityPolicies: fn.policies.map((p) => ({
          name: p.name,
          policy: p.document as unknown as Record<string, unknown>,
        })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        request: {
          action,
          principal: `arn:aws:iam::${account}:role/${fn.logicalId}`,
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
    if (!fn) {
      return {
        ...call,
        decision: 'ImplicitlyDenied',
        evaluated: call.resource,
        error: 'unknown function',
      };
    }
    let evaluated = call.resource;
    let result = await simulate(fn, call.action, evaluated);
    if (result.error && evaluated !== '*' && WILDCARD_ERRORS.test(result.error)) {
      evaluated = '*';
      result = await simulate(fn, call.action, evaluated);
    }
    return { ...call, ...result, evaluated };
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
