import { ALGORITHM, checkPostSignature, type SigningCredentials } from './s3-auth.ts';
import { parseTagging, S3Error, type Tag } from './s3-xml.ts';

/**
 * A browser upload (S3 POST Object with a SigV4 POST policy) checked the way
 * S3 checks it, per the S3 API Reference ("Authenticating Requests in
 * Browser-Based Uploads Using POST (AWS Signature Version 4)", "Creating a
 * POST Policy"). fauxqs stores such an upload without looking at the policy;
 * storage.ts runs these checks first. Pure: the clock is an argument.
 */

export interface FormField {
  /** As the form spells it; S3 matches field names without regard to case. */
  name: string;
  value: string;
}

export interface PostForm {
  /** The fields before the file, in order (S3 ignores any after it). */
  fields: FormField[];
  file: Buffer;
  filename: string | undefined;
}

const malformedPost = () =>
  new S3Error(
    400,
    'MalformedPOSTRequest',
    'The body of your POST request is not well-formed multipart/form-data.',
  );

const oneFile = () =>
  new S3Error(400, 'InvalidArgument', 'POST requires exactly one file upload per request.', {
    ArgumentName: 'file',
    ArgumentValue: 0,
  });

/**
 * A parameter of a part's Content-Disposition (`name="…"`, `filename="…"`).
 * Browsers write `"` as %22 and no backslash escapes (a backslash may be a path's).
 */
function dispositionParam(disposition: string, param: string): string | undefined {
  const quoted = new RegExp(`(?:^|;)\\s*${param}="([^"]*)"`, 'i').exec(disposition);
  if (quoted) return quoted[1];
  return new RegExp(`(?:^|;)\\s*${param}=([^;\\s]+)`, 'i').exec(disposition)?.[1];
}

/**
 * multipart/form-data, up to and including the part named `file` (the file
 * is a view into `body`, not a copy: a 100 MB upload is not held twice).
 */
export function parsePostForm(body: Buffer, contentType: string): PostForm {
  const boundary = /boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
  if (!boundary) throw malformedPost();
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const next = Buffer.concat([Buffer.from('\r\n'), delimiter]);
  let at = body.subarray(0, delimiter.length).equals(delimiter) ? 0 : body.indexOf(next);
  if (at < 0) throw malformedPost();
  if (at > 0) at += 2;
  const fields: FormField[] = [];
  for (;;) {
    at += delimiter.length;
    if (body.subarray(at, at + 2).toString('latin1') === '--') throw oneFile();
    if (body.subarray(at, at + 2).toString('latin1') !== '\r\n') throw malformedPost();
    const headersEnd = body.indexOf('\r\n\r\n', at + 2);
    if (headersEnd < 0) throw malformedPost();
    const headers = body
      .subarray(at + 2, headersEnd)
      .toString('utf8')
      .split('\r\n');
    const disposition = headers
      .find((h) => /^content-disposition\s*:/i.test(h))
      ?.replace(/^[^:]*:\s*/, '');
    const name = disposition && dispositionParam(disposition, 'name');
    if (!disposition || !/^form-data\s*(;|$)/i.test(disposition) || name === undefined)
      throw malformedPost();
    const start = headersEnd + 4;
    const end = body.indexOf(next, start);
    if (end < 0) throw malformedPost();
    const filename = dispositionParam(disposition, 'filename');
    if (name.toLowerCase() === 'file')
      return {
        fields,
        file: body.subarray(start, end),
        filename: filename?.split(/[/\\]/).pop(),
      };
    // A second file input is not something S3 takes; fauxqs would store it as the file.
    if (filename !== undefined) throw oneFile();
    fields.push({ name, value: body.subarray(start, end).toString('utf8') });
    at = end + 2;
  }
}

/** What an accepted form asks S3 to store. */
export interface PostUpload {
  /** With `${filename}` replaced. */
  key: string;
  /** Field values by lower-case name (key included, replaced). */
  fields: Map<string, string>;
  /** The `tagging` field's tag set, when there is one. */
  tags: Tag[] | undefined;
}

type Condition =
  | { kind: 'eq' | 'starts-with'; field: string; value: string; text: string }
  | { kind: 'range'; min: number; max: number };

const invalidPolicy = (message: string) =>
  new S3Error(400, 'InvalidPolicyDocument', `Invalid Policy: ${message}`);

/** Fields whose conditions may be `starts-with` (the policy document's table of conditions). */
const STARTS_WITH = new Set([
  'acl',
  'cache-control',
  'content-type',
  'content-disposition',
  'content-encoding',
  'expires',
  'key',
  'success_action_redirect',
  'redirect',
]);
const startsWithAllowed = (field: string) =>
  STARTS_WITH.has(field) ||
  field.startsWith('x-amz-meta-') ||
  !(field === 'bucket' || field === 'success_action_status' || field.startsWith('x-amz-'));

const quote = (value: unknown) => JSON.stringify(value);

/** The policy document: base64 JSON with `expiration` and `conditions`. */
export function parsePolicy(policy: string): { expiration: Date; conditions: Condition[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(policy, 'base64').toString('utf8'));
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw invalidPolicy('Invalid JSON.');
  const { expiration, conditions } = doc as { expiration?: unknown; conditions?: unknown };
  if (expiration === undefined) throw invalidPolicy('Policy missing expiration.');
  const expires =
    typeof expiration === 'string' &&
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(expiration)
      ? new Date(expiration)
      : undefined;
  if (!expires || Number.isNaN(expires.getTime()))
    throw invalidPolicy(`Invalid 'expiration' value: ${quote(expiration)}`);
  if (!Array.isArray(conditions)) throw invalidPolicy('Policy missing conditions.');
  return { expiration: expires, conditions: conditions.map(parseCondition) };
}

function parseCondition(raw: unknown): Condition {
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const entries = Object.entries(raw);
    if (entries.length !== 1)
      throw invalidPolicy(
        'Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.',
      );
    const [name, value] = entries[0]!;
    if (typeof value !== 'string')
      throw invalidPolicy(`Invalid Simple-Condition: value must be a string.`);
    return {
      kind: 'eq',
      field: name.toLowerCase(),
      value,
      text: `["eq", ${quote(`$${name}`)}, ${quote(value)}]`,
    };
  }
  if (!Array.isArray(raw) || raw.length !== 3)
    throw invalidPolicy(`Invalid Condition: ${quote(raw)}`);
  const [op, a, b] = raw as [unknown, unknown, unknown];
  const operator = typeof op === 'string' ? op.toLowerCase() : op;
  if (operator === 'content-length-range') {
    const [min, max] = [a, b].map((n) =>
      typeof n === 'number' ? n : typeof n === 'string' && /^\d+$/.test(n) ? Number(n) : NaN,
    ) as [number, number];
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max < min)
      throw invalidPolicy(`Invalid content-length-range: ${quote(raw)}`);
    return { kind: 'range', min, max };
  }
  if (operator !== 'eq' && operator !== 'starts-with')
    throw invalidPolicy(`Invalid Condition Type: ${quote(op)}`);
  if (typeof a !== 'string' || !a.startsWith('$') || typeof b !== 'string')
    throw invalidPolicy(`Invalid Condition: ${quote(raw)}`);
  return {
    kind: operator,
    field: a.slice(1).toLowerCase(),
    value: b,
    text: `[${quote(op)}, ${quote(a)}, ${quote(b)}]`,
  };
}

function satisfied(
  condition: Exclude<Condition, { kind: 'range' }>,
  value: string | undefined,
): boolean {
  if (condition.kind === 'eq') return (value ?? '') === condition.value;
  if (!startsWithAllowed(condition.field)) return false;
  // A Content-Type with commas is a list; each entry must start with the prefix.
  const values =
    condition.field === 'content-type' && value?.includes(',')
      ? value.split(',').map((v) => v.trim())
      : [value ?? ''];
  return values.every((v) => v.startsWith(condition.value));
}

const policyFailed = (text: string) =>
  new S3Error(403, 'AccessDenied', `Invalid according to Policy: ${text}`);

const missingField = (name: string) =>
  new S3Error(
    400,
    'InvalidArgument',
    `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
    { ArgumentName: name, ArgumentValue: '' },
  );

/**
 * Every check S3 makes on a SigV4 browser upload to `bucket`, in its order:
 * the key, the auth fields, the credential, the signature (an HMAC of the
 * base64 policy as sent, so any change to the policy fails here), the policy
 * document, its expiration, each condition, and that every field (but
 * policy, x-amz-signature, file and x-ignore-*) is named by a condition.
 * Throws the S3Error S3 would answer; answers what to store.
 */
export function checkPostPolicy(
  form: PostForm,
  request: {
    bucket: string;
    now: Date;
    credentials: SigningCredentials;
    region: string;
  },
): PostUpload {
  const fields = new Map<string, string>();
  for (const { name, value } of form.fields) {
    const lower = name.toLowerCase();
    if (fields.has(lower))
      throw new S3Error(400, 'InvalidArgument', `Bucket POST has more than one '${name}' field.`, {
        ArgumentName: name,
      });
    fields.set(lower, value);
  }
  const rawKey = fields.get('key');
  if (!rawKey) throw missingField('key');
  // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's placeholder, not a template.
  const key = rawKey.replaceAll('${filename}', form.filename ?? '');
  fields.set('key', key);

  const policy = fields.get('policy');
  // No policy: an anonymous upload, which only a publicly writable bucket takes.
  if (policy === undefined) throw new S3Error(403, 'AccessDenied', 'Access Denied');
  for (const name of ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Signature'])
    if (!fields.has(name.toLowerCase())) throw missingField(name);
  if (fields.get('x-amz-algorithm') !== ALGORITHM)
    throw new S3Error(400, 'InvalidArgument', `X-Amz-Algorithm only supports "${ALGORITHM}"`, {
      ArgumentName: 'x-amz-algorithm',
      ArgumentValue: fields.get('x-amz-algorithm')!,
    });
  checkPostSignature(
    {
      credential: fields.get('x-amz-credential')!,
      policy,
      signature: fields.get('x-amz-signature')!,
    },
    request,
  );

  const { expiration, conditions } = parsePolicy(policy);
  if (request.now.getTime() >= expiration.getTime()) throw policyFailed('Policy expired.');

  const covered = new Set<string>();
  for (const condition of conditions) {
    if (condition.kind === 'range') {
      const size = form.file.length;
      if (size > condition.max)
        throw new S3Error(
          400,
          'EntityTooLarge',
          'Your proposed upload exceeds the maximum allowed size',
          {
            ProposedSize: size,
            MaxSizeAllowed: condition.max,
          },
        );
      if (size < condition.min)
        throw new S3Error(
          400,
          'EntityTooSmall',
          'Your proposed upload is smaller than the minimum allowed size',
          {
            ProposedSize: size,
            MinSizeAllowed: condition.min,
          },
        );
      continue;
    }
    // The bucket is the one the form is posted to.
    const value = condition.field === 'bucket' ? request.bucket : fields.get(condition.field);
    if (!satisfied(condition, value))
      throw policyFailed(`Policy Condition failed: ${condition.text}`);
    covered.add(condition.field);
  }
  const extra = [...fields.keys()].filter(
    (name) =>
      !covered.has(name) &&
      name !== 'policy' &&
      name !== 'x-amz-signature' &&
      !name.startsWith('x-ignore-'),
  );
  if (extra.length > 0) throw policyFailed(`Extra input fields: ${extra.join(', ')}`);

  const tagging = fields.get('tagging');
  return { key, fields, tags: tagging === undefined ? undefined : parseTagging(tagging) };
}
