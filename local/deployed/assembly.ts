import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allHandlers } from '#functions/routes.ts';
import { idFor } from '#lib/chat-function.ts';

/**
 * The synthesized stack as `cdk deploy` would ship it, read from a cloud
 * assembly (cdk.out): each function's bundle, its template environment and its
 * role's policies, with CloudFormation's intrinsic functions resolved the way
 * CloudFormation would resolve them, onto names the local cloud provides.
 */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface TemplateResource {
  Type: string;
  Properties?: Record<string, Json>;
  Metadata?: Record<string, Json>;
}

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, Json>>;
}

export interface PolicyDocument {
  Version: string;
  Statement: PolicyStatement[];
}

export interface DeployedFunction {
  logicalId: string;
  /** The route-table handler (`http/create-room`) it was built from. */
  handler: string;
  /** Folder of the bundle (index.mjs). */
  assetDir: string;
  /** File name and export of the entry, from the template's Handler (`index.handler`). */
  entryFile: string;
  entryExport: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** The template's environment, intrinsics resolved; literal values are marked. */
  environment: Record<string, { value: string; literal: boolean }>;
  /** Its role's identity policies (inline and attached), resolved. */
  policies: { name: string; document: PolicyDocument }[];
  /** AWS-managed policies attached to the role (ARNs). */
  managedPolicyArns: string[];
  /** What its event source mappings read and send failures to (the Lambda service uses those grants). */
  eventSourceArns: string[];
}

export interface Assembly {
  dir: string;
  stackName: string;
  region: string;
  account: string;
  functions: DeployedFunction[];
}

/** What a template's resources are called in the local cloud, by construct path (e.g. `Data/Table`). */
export interface LocalNames {
  region: string;
  account: string;
  /** Construct path → physical name (table, queue, topic or bucket name, API id, secret name). */
  names: Record<string, string>;
}

type Attr = (name: string) => string;

function physicalOf(
  type: string,
  name: string,
  region: string,
  account: string,
): { ref: string; attr: Attr } {
  const arn = (service: string, resource: string) =>
    `arn:aws:${service}:${region}:${account}:${resource}`;
  switch (type) {
    case 'AWS::DynamoDB::Table':
      return {
        ref: name,
        attr: (a) =>
          a === 'StreamArn'
            ? arn('dynamodb', `table/${name}/stream/local`)
            : arn('dynamodb', `table/${name}`),
      };
    case 'AWS::SQS::Queue':
      return {
        ref: `https://sqs.${region}.amazonaws.com/${account}/${name}`,
        attr: (a) =>
          a === 'QueueName'
            ? name
            : a === 'QueueUrl'
              ? `https://sqs.${region}.amazonaws.com/${account}/${name}`
              : arn('sqs', name),
      };
    case 'AWS::SNS::Topic':
      return { ref: arn('sns', name), attr: (a) => (a === 'TopicName' ? name : arn('sns', name)) };
    case 'AWS::SecretsManager::Secret':
      return {
        ref: arn('secretsmanager', `secret:${name}`),
        attr: () => arn('secretsmanager', `secret:${name}`),
      };
    case 'AWS::ApiGatewayV2::Api':
      return {
        ref: name,
        attr: (a) =>
          a === 'ApiEndpoint' ? `https://${name}.execute-api.${region}.amazonaws.com` : name,
      };
    case 'AWS::S3::Bucket':
      return {
        ref: name,
        attr: (a) =>
          a === 'DomainName'
            ? `${name}.s3.amazonaws.com`
            : a === 'RegionalDomainName'
              ? `${name}.s3.${region}.amazonaws.com`
              : a === 'WebsiteURL'
                ? `http://${name}.s3-website-${region}.amazonaws.com`
                : `arn:aws:s3:::${name}`,
      };
    case 'AWS::KMS::Key':
      return { ref: name, attr: () => arn('kms', `key/${name}`) };
    case 'AWS::IAM::Role':
      return { ref: name, attr: () => `arn:aws:iam::${account}:role/${name}` };
    case 'AWS::Lambda::Function':
      return { ref: name, attr: () => arn('lambda', `function:${name}`) };
    default:
      return { ref: name, attr: (a) => `${name}.${a}` };
  }
}

/** Resolves Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select and Fn::Split over a template. */
export function intrinsicResolver(
  resources: Record<string, TemplateResource>,
  stackName: string,
  local: LocalNames,
) {
  const pseudo: Record<string, string> = {
    'AWS::Region': local.region,
    'AWS::AccountId': local.account,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': stackName,
    'AWS::NoValue': '',
  };
  const physical = new Map<string, { ref: string; attr: Attr }>();
  for (const [id, resource] of Object.entries(resources)) {
    const path = constructPath(resource, stackName);
    const name = (path ? local.names[path] : undefined) ?? id;
    physical.set(id, physicalOf(resource.Type, name, local.region, local.account));
  }
  const ref = (id: string): string => {
    if (id in pseudo) return pseudo[id]!;
    const p = physical.get(id);
    if (!p) throw new Error(`Ref to an unknown resource: ${id}`);
    return p.ref;
  };
  const getAtt = (id: string, attribute: string) => {
    const p = physical.get(id);
    if (!p) throw new Error(`GetAtt of an unknown resource: ${id}`);
    return p.attr(attribute);
  };

  const resolve = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    const keys = Object.keys(value);
    if (keys.length === 1) {
      const [key] = keys as [string];
      const arg = value[key]!;
      switch (key) {
        case 'Ref':
          return ref(arg as string);
        case 'Fn::GetAtt': {
          const [id, attribute] = Array.isArray(arg) ? arg : String(arg).split('.');
          return getAtt(String(id), String(attribute));
        }
        case 'Fn::Join': {
          const [separator, parts] = arg as [string, Json[]];
          return (resolve(parts) as Json[]).map(String).join(separator);
        }
        case 'Fn::Select': {
          const [index, list] = arg as [Json, Json];
          return (resolve(list) as Json[])[Number(resolve(index))] ?? '';
        }
        case 'Fn::Split': {
          const [separator, source] = arg as [string, Json];
          return String(resolve(source)).split(separator);
        }
        case 'Fn::Sub': {
          const [text, vars] = (Array.isArray(arg) ? arg : [arg, {}]) as [
            string,
            Record<string, Json>,
          ];
          return text.replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
            if (name in vars) return String(resolve(vars[name]!));
            if (name.includes('.')) {
              const [id, attribute] = name.split('.') as [string, string];
              return getAtt(id, attribute);
            }
            return ref(name);
          });
        }
      }
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
  };
  return resolve;
}

function constructPath(resource: TemplateResource, stackName: string): string | undefined {
  const path = resource.Metadata?.['aws:cdk:path'];
  if (typeof path !== 'string') return undefined;
  return path.replace(`${stackName}/`, '').replace(/\/(Resource|Default)$/, '');
}

export function findStackTemplate(dir: string): { stackName: string; file: string } {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>;
  };
  const stacks = Object.entries(manifest.artifacts).filter(
    ([, a]) => a.type === 'aws:cloudformation:stack',
  );
  if (stacks.length !== 1) throw new Error(`Expected one stack in ${dir}, found ${stacks.length}`);
  const [stackName, artifact] = stacks[0]!;
  return {
    stackName,
    file: join(dir, artifact.properties?.templateFile ?? `${stackName}.template.json`),
  };
}

/** Reads the assembly in `dir`, resolving names onto the local cloud's. */
export function loadAssembly(dir: string, local: LocalNames): Assembly {
  const { stackName, file } = findStackTemplate(dir);
  const template = JSON.parse(readFileSync(file, 'utf8')) as {
    Resources: Record<string, TemplateResource>;
  };
  const resources = template.Resources;
  const resolve = intrinsicResolver(resources, stackName, local);
  const handlerById = new Map(allHandlers().map((h) => [idFor(h), h]));
  const functions: DeployedFunction[] = [];
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const path = constructPath(resource, stackName) ?? '';
    const handler = handlerById.get(path.split('/')[0] ?? '');
    if (!handler) continue; // CDK's own helper functions (none today), not part of the app.
    const props = resource.Properties ?? {};
    const assetDir = assetDirOf(dir, resource);
    const [entryFile, entryExport] = String(props.Handler).split('.') as [string, string];
    const variables = ((props.Environment as { Variables?: Record<string, Json> } | undefined)
      ?.Variables ?? {}) as Record<string, Json>;
    const environment = Object.fromEntries(
      Object.entries(variables).map(([k, v]) => [
        k,
        { value: String(resolve(v)), literal: typeof v !== 'object' || v === null },
      ]),
    );
    const roleId = (props.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const role = resources[roleId]!;
    const policies: DeployedFunction['policies'] = [];
    for (const inline of (role.Properties?.Policies as Json[] | undefined) ?? []) {
      const p = resolve(inline) as unknown as {
        PolicyName: string;
        PolicyDocument: PolicyDocument;
      };
      policies.push({ name: p.PolicyName, document: p.PolicyDocument });
    }
    for (const [policyId, policy] of Object.entries(resources)) {
      if (policy.Type !== 'AWS::IAM::Policy') continue;
      const roles = (policy.Properties?.Roles as { Ref: string }[] | undefined) ?? [];
      if (!roles.some((r) => r.Ref === roleId)) continue;
      policies.push({
        name: policyId,
        document: resolve(policy.Properties!.PolicyDocument!) as unknown as PolicyDocument,
      });
    }
    functions.push({
      logicalId,
      handler,
      assetDir,
      entryFile: `${entryFile}.mjs`,
      entryExport,
      timeoutSeconds: Number(props.Timeout ?? 3),
      memoryMb: Number(props.MemorySize ?? 128),
      environment,
      policies,
      managedPolicyArns: ((resolve(role.Properties?.ManagedPolicyArns ?? []) as Json[]) ?? []).map(
        String,
      ),
      eventSourceArns: Object.values(resources)
        .filter(
          (r) =>
            r.Type === 'AWS::Lambda::EventSourceMapping' &&
            (r.Properties?.FunctionName as { Ref?: string } | undefined)?.Ref === logicalId,
        )
        .flatMap((r) => {
          const p = resolve(r.Properties as Json) as {
            EventSourceArn?: string;
            DestinationConfig?: { OnFailure?: { Destination?: string } };
          };
          return [p.EventSourceArn, p.DestinationConfig?.OnFailure?.Destination].filter(
            (a): a is string => typeof a === 'string',
          );
        }),
    });
  }
  return { dir, stackName, region: local.region, account: local.account, functions };
}

function assetDirOf(dir: string, resource: TemplateResource): string {
  const fromMetadata = resource.Metadata?.['aws:asset:path'];
  if (typeof fromMetadata === 'string') return join(dir, fromMetadata);
  const key = String((resource.Properties?.Code as { S3Key?: string } | undefined)?.S3Key ?? '');
  const hash = key.replace(/\.zip$/, '');
  const found = readdirSync(dir).find((entry) => entry === `asset.${hash}`);
  if (!found || !existsSync(join(dir, found)))
    throw new Error(`No bundle for ${key} in ${dir}: synthesize with bundling`);
  return join(dir, found);
}
