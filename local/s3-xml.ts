import { randomBytes } from 'node:crypto';

/**
 * S3's XML bits the local storage proxy (storage.ts) speaks: the error body,
 * and the object tag set of PutObjectTagging, GetObjectTagging, the POST
 * form's `tagging` field and PutObject's `x-amz-tagging` header, with the
 * limits S3 puts on it. Pure, so test/unit/s3-post-policy.test.ts covers it.
 */

/** An answer S3 would give instead of doing the request. */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Further elements of the <Error> body, as S3 adds them (ProposedSize, …). */
    readonly extra: Readonly<Record<string, string | number>> = {},
  ) {
    super(message);
  }
}

export const escapeXml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
  );

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Text content as XML writes it: the five entities and character references. */
export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] !== '#') return ENTITIES[name] ?? whole;
    const code =
      name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1));
    return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

export const requestId = () => randomBytes(8).toString('hex').toUpperCase();

/** S3's error document. */
export function errorXml(error: S3Error, resource?: string): string {
  const extra = Object.entries(error.extra)
    .map(([name, value]) => `<${name}>${escapeXml(String(value))}</${name}>`)
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${error.code}</Code><Message>${escapeXml(error.message)}</Message>${extra}` +
    (resource ? `<Resource>${escapeXml(resource)}</Resource>` : '') +
    `<RequestId>${requestId()}</RequestId><HostId>local</HostId></Error>`
  );
}

export interface Tag {
  Key: string;
  Value: string;
}

const malformedXml = () =>
  new S3Error(
    400,
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema',
  );

/** The limits S3 checks on an object's tag set (User Guide, "Categorizing your storage using tags"). */
export function validateTags(tags: readonly Tag[]): Tag[] {
  if (tags.length > 10)
    throw new S3Error(400, 'BadRequest', 'Object tags cannot be greater than 10');
  const keys = new Set<string>();
  for (const { Key, Value } of tags) {
    if (keys.has(Key))
      throw new S3Error(400, 'InvalidTag', 'Cannot provide multiple Tags with the same key', {
        TagKey: Key,
      });
    keys.add(Key);
    if (Key.length === 0 || [...Key].length > 128 || Key.toLowerCase().startsWith('aws:'))
      throw new S3Error(400, 'InvalidTag', 'The TagKey you have provided is invalid', {
        TagKey: Key,
      });
    if ([...Value].length > 256)
      throw new S3Error(400, 'InvalidTag', 'The TagValue you have provided is invalid', {
        TagKey: Key,
        TagValue: Value,
      });
  }
  return [...tags];
}

/** `<Tagging><TagSet><Tag><Key>…</Key><Value>…</Value></Tag>…</TagSet></Tagging>`, validated. */
export function parseTagging(xml: string): Tag[] {
  const body = xml.replace(/^\uFEFF?\s*(<\?xml[^?]*\?>)?\s*/, '');
  const outer =
    /^<Tagging(\s+xmlns(:\w+)?="[^"]*")*\s*>\s*<TagSet>([\s\S]*)<\/TagSet>\s*<\/Tagging>\s*$/.exec(
      body,
    );
  if (!outer) throw malformedXml();
  const tags: Tag[] = [];
  let rest = outer[3]!;
  const tag =
    /^\s*<Tag>\s*(?:<Key>([^<]*)<\/Key>\s*<Value>([^<]*)<\/Value>|<Value>([^<]*)<\/Value>\s*<Key>([^<]*)<\/Key>)\s*<\/Tag>/;
  while (rest.trim()) {
    const m = tag.exec(rest);
    if (!m) throw malformedXml();
    tags.push({ Key: unescapeXml(m[1] ?? m[4]!), Value: unescapeXml(m[2] ?? m[3]!) });
    rest = rest.slice(m[0].length);
  }
  return validateTags(tags);
}

export function taggingXml(tags: readonly Tag[]): string {
  const set = tags
    .map((t) => `<Tag><Key>${escapeXml(t.Key)}</Key><Value>${escapeXml(t.Value)}</Value></Tag>`)
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>${set}</TagSet></Tagging>`
  );
}

/** PutObject's and CopyObject's `x-amz-tagging: k1=v1&k2=v2` header. */
export function parseTaggingHeader(header: string): Tag[] {
  const tags: Tag[] = [];
  for (const [Key, Value] of new URLSearchParams(header)) tags.push({ Key, Value });
  return validateTags(tags);
}

/** The keys of a DeleteObjects request body (`<Delete><Object><Key>…</Key>…</Object>…</Delete>`). */
export function deletedKeys(xml: string): string[] {
  return [...xml.matchAll(/<Object>[\s\S]*?<Key>([^<]*)<\/Key>[\s\S]*?<\/Object>/g)].map((m) =>
    unescapeXml(m[1]!),
  );
}
