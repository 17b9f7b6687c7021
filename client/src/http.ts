import type { OperationId, Operations } from './wire.ts';

/** Returns a current token; called before every request and connection, so it may refresh. */
export type TokenProvider = () => string | Promise<string>;

/** `{method, path}` of every operation, as functions/routes.ts has them (a unit test compares). */
export const ROUTES: { readonly [K in OperationId]: readonly [string, string] } = {
  createRoom: ['POST', '/api/chat/rooms'],
  listRooms: ['GET', '/api/chat/rooms'],
  getRoom: ['GET', '/api/chat/rooms/{room_id}'],
  addMembers: ['POST', '/api/chat/rooms/{room_id}/members'],
  removeMember: ['DELETE', '/api/chat/rooms/{room_id}/members/{user_id}'],
  listMessages: ['GET', '/api/chat/rooms/{room_id}/messages'],
  sendMessage: ['POST', '/api/chat/rooms/{room_id}/messages'],
  deleteMessage: ['DELETE', '/api/chat/messages/{message_id}'],
  forwardMessage: ['POST', '/api/chat/messages/{message_id}/forward'],
  deleteRoom: ['DELETE', '/api/chat/rooms/{room_id}'],
  clearMessages: ['DELETE', '/api/chat/rooms/{room_id}/messages'],
  archiveRoom: ['PUT', '/api/chat/rooms/{room_id}/archive'],
  muteRoom: ['PUT', '/api/chat/rooms/{room_id}/mute'],
  unreadCount: ['GET', '/api/chat/unread-count'],
  readStatus: ['PUT', '/api/chat/rooms/{room_id}/read-status'],
  batchReadStatus: ['PUT', '/api/chat/read-status'],
  uploadKey: ['POST', '/api/chat/encryption/keys'],
  getKeys: ['GET', '/api/chat/encryption/keys/{user_id}'],
  verifyKey: ['POST', '/api/chat/encryption/verify'],
  registerDevice: ['POST', '/api/chat/devices'],
  deleteDevice: ['DELETE', '/api/chat/devices/{device_id}'],
  sync: ['GET', '/api/chat/sync'],
  createAttachment: ['POST', '/api/chat/rooms/{room_id}/attachments'],
  getAttachment: ['GET', '/api/chat/attachments/{attachment_id}'],
  blockUser: ['PUT', '/api/chat/blocks/{user_id}'],
  unblockUser: ['DELETE', '/api/chat/blocks/{user_id}'],
  listBlocks: ['GET', '/api/chat/blocks'],
  createReport: ['POST', '/api/chat/reports'],
  eraseAccount: ['DELETE', '/api/chat/me'],
  listReports: ['GET', '/api/chat/moderation/reports'],
  resolveReport: ['POST', '/api/chat/moderation/reports/{report_id}/resolve'],
  suspendUser: ['PUT', '/api/chat/moderation/users/{user_id}/suspension'],
  liftSuspension: ['DELETE', '/api/chat/moderation/users/{user_id}/suspension'],
  listAudit: ['GET', '/api/chat/moderation/audit'],
  getSettings: ['GET', '/api/chat/me/settings'],
  updateSettings: ['PUT', '/api/chat/me/settings'],
};

/** A refused request: the envelope's `error`, with the HTTP status. */
export class ChatApiError extends Error {
  override readonly name = 'ChatApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds, from `Retry-After` on a 429. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export interface ApiOptions {
  /** e.g. `http://127.0.0.1:3000` or the stack's `HttpApiUrl`. */
  baseUrl: string;
  token: TokenProvider;
  /** Defaults to the global fetch (browsers, React Native, Node 18+). */
  fetch?: typeof fetch;
}

type Request<K extends OperationId> = ([Operations[K]['params']] extends [never]
  ? { params?: undefined }
  : { params: Record<Operations[K]['params'], string> }) &
  ([Operations[K]['query']] extends [never]
    ? { query?: undefined }
    : { query?: Operations[K]['query'] }) &
  ([Operations[K]['body']] extends [never]
    ? { body?: undefined }
    : { body: Operations[K]['body'] });

/** The success answer: the envelope's `data`, with the status (201 when something was created). */
export interface Answer<T> {
  status: number;
  message?: string;
  data: T;
}

/**
 * Typed calls for every route of the HTTP API (docs/openapi.json). Each method
 * answers the envelope's `data`, or throws a ChatApiError.
 */
export class ChatApi {
  private readonly fetch: typeof fetch;
  constructor(private readonly options: ApiOptions) {
    this.fetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
  }

  /** Any operation by id, with the status and message. */
  async call<K extends OperationId>(
    op: K,
    request: Request<K>,
  ): Promise<Answer<Operations[K]['data']>> {
    const [method, template] = ROUTES[op];
    const params = (request.params ?? {}) as Record<string, string>;
    const path = template.replace(/\{(\w+)\}/g, (_m, name: string) =>
      encodeURIComponent(params[name] ?? ''),
    );
    const query = Object.entries((request.query ?? {}) as Record<string, unknown>)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&');
    const headers: Record<string, string> = {
      authorization: `Bearer ${await this.options.token()}`,
    };
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.fetch(
      `${this.options.baseUrl.replace(/\/$/, '')}${path}${query ? `?${query}` : ''}`,
      {
        method,
        headers,
        ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
      },
    );
    const text = await res.text();
    let envelope: {
      success?: boolean;
      message?: string;
      data?: unknown;
      error?: { code?: string; message?: string };
    } = {};
    try {
      envelope = text ? JSON.parse(text) : {};
    } catch {
      // not JSON: answered below from the status
    }
    if (!res.ok || envelope.success !== true) {
      const retry = Number(res.headers.get('retry-after'));
      throw new ChatApiError(
        res.status,
        envelope.error?.code ?? 'HTTP_ERROR',
        envelope.error?.message ?? `HTTP ${res.status}`,
        Number.isFinite(retry) && retry > 0 ? retry : undefined,
      );
    }
    return {
      status: res.status,
      ...(envelope.message ? { message: envelope.message } : {}),
      data: envelope.data as Operations[K]['data'],
    };
  }

  private async data<K extends OperationId>(op: K, request: Request<K>) {
    return (await this.call(op, request)).data;
  }

  createRoom(body: Operations['createRoom']['body']) {
    return this.data('createRoom', { body });
  }
  listRooms(query: Operations['listRooms']['query'] = {}) {
    return this.data('listRooms', { query });
  }
  getRoom(roomId: string) {
    return this.data('getRoom', { params: { room_id: roomId } });
  }
  addMembers(roomId: string, body: Operations['addMembers']['body']) {
    return this.data('addMembers', { params: { room_id: roomId }, body });
  }
  removeMember(roomId: string, userId: string) {
    return this.data('removeMember', { params: { room_id: roomId, user_id: userId } });
  }
  listMessages(roomId: string, query: Operations['listMessages']['query'] = {}) {
    return this.data('listMessages', { params: { room_id: roomId }, query });
  }
  sendMessage(roomId: string, body: Operations['sendMessage']['body']) {
    return this.data('sendMessage', { params: { room_id: roomId }, body });
  }
  deleteMessage(messageId: string) {
    return this.data('deleteMessage', { params: { message_id: messageId } });
  }
  forwardMessage(messageId: string, body: Operations['forwardMessage']['body']) {
    return this.data('forwardMessage', { params: { message_id: messageId }, body });
  }
  deleteRoom(roomId: string) {
    return this.data('deleteRoom', { params: { room_id: roomId } });
  }
  clearMessages(roomId: string, query: Operations['clearMessages']['query'] = {}) {
    return this.data('clearMessages', { params: { room_id: roomId }, query });
  }
  archiveRoom(roomId: string, body: Operations['archiveRoom']['body']) {
    return this.data('archiveRoom', { params: { room_id: roomId }, body });
  }
  muteRoom(roomId: string, body: Operations['muteRoom']['body']) {
    return this.data('muteRoom', { params: { room_id: roomId }, body });
  }
  unreadCount(query: Operations['unreadCount']['query'] = {}) {
    return this.data('unreadCount', { query });
  }
  readStatus(roomId: string, body: Operations['readStatus']['body']) {
    return this.data('readStatus', { params: { room_id: roomId }, body });
  }
  batchReadStatus(body: Operations['batchReadStatus']['body']) {
    return this.data('batchReadStatus', { body });
  }
  uploadKey(body: Operations['uploadKey']['body']) {
    return this.data('uploadKey', { body });
  }
  getKeys(userId: string) {
    return this.data('getKeys', { params: { user_id: userId } });
  }
  verifyKey(body: Operations['verifyKey']['body']) {
    return this.data('verifyKey', { body });
  }
  registerDevice(body: Operations['registerDevice']['body']) {
    return this.data('registerDevice', { body });
  }
  deleteDevice(deviceId: string) {
    return this.data('deleteDevice', { params: { device_id: deviceId } });
  }
  /** Catch-up since a cursor (GET /api/chat/sync); without `since`, takes a first cursor. */
  sync(query: Operations['sync']['query'] = {}) {
    return this.data('sync', { query });
  }
  /** An upload slot for a file (CONTRACT §8); `uploadAttachment` does the whole upload. */
  createAttachment(roomId: string, body: Operations['createAttachment']['body']) {
    return this.data('createAttachment', { params: { room_id: roomId }, body });
  }
  /** A signed download URL, valid until its `expires_at` (at most 15 minutes). */
  getAttachment(attachmentId: string) {
    return this.data('getAttachment', { params: { attachment_id: attachmentId } });
  }
  /** Where a file can be downloaded now: fetch it before the URL expires, ask again after. */
  async attachmentUrl(attachmentId: string): Promise<string> {
    return (await this.getAttachment(attachmentId)).url;
  }
  /**
   * Uploads a file for a room and answers its attachment id, to name in a
   * send's `attachment_ids`: asks for a slot, then POSTs the bytes straight to
   * storage as an HTML form (every field of the slot, then `file`), which
   * refuses more bytes than declared or another type.
   */
  async uploadAttachment(
    roomId: string,
    file: Blob,
    options: { fileName?: string; contentType?: string; isEncrypted?: boolean } = {},
  ): Promise<string> {
    const contentType = options.contentType ?? (file.type || 'application/octet-stream');
    const slot = await this.createAttachment(roomId, {
      content_type: contentType,
      size_bytes: file.size,
      ...(options.fileName ? { file_name: options.fileName } : {}),
      ...(options.isEncrypted ? { is_encrypted: true } : {}),
    });
    const form = new FormData();
    for (const [name, value] of Object.entries(slot.upload.fields)) form.append(name, value);
    form.append('file', file, options.fileName ?? 'file');
    const res = await this.fetch(slot.upload.url, { method: 'POST', body: form });
    if (!res.ok) {
      const text = await res.text();
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? 'UPLOAD_FAILED';
      throw new ChatApiError(res.status, code, `Storage refused the upload (${code})`);
    }
    return slot.attachment_id;
  }
  /** Blocks a user (idempotent): see CONTRACT §9 for what a block stops. */
  blockUser(userId: string) {
    return this.data('blockUser', { params: { user_id: userId } });
  }
  unblockUser(userId: string) {
    return this.data('unblockUser', { params: { user_id: userId } });
  }
  /** The users the caller blocks, oldest block first. */
  listBlocks() {
    return this.data('listBlocks', {});
  }
  /** Reports a message or a user to the operator (CONTRACT §9). */
  report(body: Operations['createReport']['body']) {
    return this.data('createReport', { body });
  }
  /**
   * Erases the caller's chat account (202; done within a minute, CONTRACT §9).
   * `erase_messages: 'true'` also blanks what they sent in others' rooms.
   */
  deleteAccount(query: Operations['eraseAccount']['query'] = {}) {
    return this.data('eraseAccount', { query });
  }
  /** Moderators only (403 otherwise): reports, oldest first. */
  listReports(query: Operations['listReports']['query'] = {}) {
    return this.data('listReports', { query });
  }
  /** Moderators only: dismiss, remove the message for everyone, or suspend its sender. */
  resolveReport(reportId: string, body: Operations['resolveReport']['body']) {
    return this.data('resolveReport', { params: { report_id: reportId }, body });
  }
  /** Moderators only: suspend a user until lifted, or until `until`. */
  suspendUser(userId: string, body: Operations['suspendUser']['body']) {
    return this.data('suspendUser', { params: { user_id: userId }, body });
  }
  /** Moderators only: lift a suspension (idempotent). */
  liftSuspension(userId: string) {
    return this.data('liftSuspension', { params: { user_id: userId } });
  }
  /** Moderators only: every moderator action, newest first. */
  listAudit(query: Operations['listAudit']['query'] = {}) {
    return this.data('listAudit', { query });
  }
  /** The caller's settings, defaults included. */
  getSettings() {
    return this.data('getSettings', {});
  }
  updateSettings(body: Operations['updateSettings']['body']) {
    return this.data('updateSettings', { body });
  }
}
