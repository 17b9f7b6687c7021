import { LIMITS } from '#platform/limits.ts';

/** What an attachment is, for its size limit and its push text. */
export type AttachmentKind = 'image' | 'audio' | 'video' | 'file';

/** The content types CONTRACT §8 accepts, and the kind of each. */
export const ATTACHMENT_TYPES: Readonly<Record<string, AttachmentKind>> = {
  'image/jpeg': 'image',
  'image/png': 'image',
  'image/webp': 'image',
  'image/gif': 'image',
  'image/heic': 'image',
  'audio/mpeg': 'audio',
  'audio/mp4': 'audio',
  'audio/aac': 'audio',
  'audio/ogg': 'audio',
  'video/mp4': 'video',
  'video/quicktime': 'video',
  'application/pdf': 'file',
  'application/zip': 'file',
  'text/plain': 'file',
  'application/octet-stream': 'file',
};

/** What an encrypted file must declare: the server never learns what it is. */
export const ENCRYPTED_CONTENT_TYPE = 'application/octet-stream';

export const kindOf = (contentType: string): AttachmentKind =>
  Object.hasOwn(ATTACHMENT_TYPES, contentType) ? ATTACHMENT_TYPES[contentType]! : 'file';

/** The largest file of a kind (CONTRACT §7). */
export function maxBytes(kind: AttachmentKind): number {
  switch (kind) {
    case 'image':
      return LIMITS.imageBytes;
    case 'audio':
      return LIMITS.audioBytes;
    case 'video':
      return LIMITS.videoBytes;
    case 'file':
      return LIMITS.fileBytes;
  }
}

const PUSH_LABELS: Record<AttachmentKind, [one: string, many: string]> = {
  image: ['📷 Photo', '📷 Photos'],
  audio: ['🎤 Voice message', '🎤 Voice messages'],
  video: ['🎥 Video', '🎥 Videos'],
  file: ['📎 File', '📎 Files'],
};

/**
 * Push text for a message's files: never a URL or a file name, only what kind
 * of thing arrived ("📷 Photo", "📎 3 files" when kinds are mixed).
 */
export function attachmentsPushText(contentTypes: readonly string[]): string {
  if (contentTypes.length === 0) return '';
  const kinds = new Set(contentTypes.map(kindOf));
  if (kinds.size === 1) {
    const [one, many] = PUSH_LABELS[[...kinds][0]!];
    return contentTypes.length === 1 ? one : `${many} (${contentTypes.length})`;
  }
  return `📎 ${contentTypes.length} files`;
}
