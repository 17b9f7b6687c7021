/**
 * The wire types, taken from the server's own zod schemas with type-only
 * imports: nothing of the server reaches a bundle, and a contract change
 * (a renamed field, a new required one) breaks this package's build.
 */
import type * as z from 'zod/mini';
import type * as responses from '../../functions/domain/responses.ts';
import type * as schemas from '../../functions/domain/schemas.ts';

type Out<T extends z.ZodMiniType> = z.output<T>;
type In<T extends z.ZodMiniType> = z.input<T>;
/** Query strings: the schema's parameter names, any scalar value. */
type Query<T extends z.ZodMiniType> = { [K in keyof In<T>]?: string | number | boolean };

export type Message = Out<typeof responses.message>;
export type MessageSummary = Out<typeof responses.messageSummary>;
export type Room = Out<typeof responses.room>;
export type RoomPage = Out<typeof responses.roomPage>;
export type MessagePage = Out<typeof responses.messagePage>;
export type SentMessage = Out<typeof responses.sentMessage>;
export type SyncPage = Out<typeof responses.syncPage>;
export type UserSettings = Out<typeof responses.userSettings>;

/** Every HTTP operation: its path parameters, query, body and success `data`. */
export interface Operations {
  createRoom: { params: never; query: never; body: In<typeof schemas.createRoomBody>; data: Room };
  listRooms: {
    params: never;
    query: Query<typeof schemas.listRoomsQuery>;
    body: never;
    data: RoomPage;
  };
  getRoom: { params: 'room_id'; query: never; body: never; data: Room };
  addMembers: {
    params: 'room_id';
    query: never;
    body: In<typeof schemas.addMembersBody>;
    data: Room;
  };
  removeMember: { params: 'room_id' | 'user_id'; query: never; body: never; data: Room };
  listMessages: {
    params: 'room_id';
    query: Query<typeof schemas.listMessagesQuery>;
    body: never;
    data: MessagePage;
  };
  sendMessage: {
    params: 'room_id';
    query: never;
    body: In<typeof schemas.sendMessageBody>;
    data: SentMessage;
  };
  deleteMessage: {
    params: 'message_id';
    query: never;
    body: never;
    data: Out<typeof responses.deletedMessage>;
  };
  forwardMessage: {
    params: 'message_id';
    query: never;
    body: In<typeof schemas.forwardBody>;
    data: Out<typeof responses.forwardResult>;
  };
  deleteRoom: {
    params: 'room_id';
    query: never;
    body: never;
    data: Out<typeof responses.deletedRoom>;
  };
  clearMessages: {
    params: 'room_id';
    query: Query<typeof schemas.clearMessagesQuery>;
    body: never;
    data: Out<typeof responses.clearedRoom>;
  };
  archiveRoom: {
    params: 'room_id';
    query: never;
    body: In<typeof schemas.archiveBody>;
    data: Out<typeof responses.archiveState>;
  };
  muteRoom: {
    params: 'room_id';
    query: never;
    body: In<typeof schemas.muteBody>;
    data: Out<typeof responses.muteState>;
  };
  unreadCount: {
    params: never;
    query: Query<typeof schemas.unreadCountQuery>;
    body: never;
    data: Out<typeof responses.unreadCounts>;
  };
  readStatus: {
    params: 'room_id';
    query: never;
    body: In<typeof schemas.readStatusBody>;
    data: Out<typeof responses.readStatus>;
  };
  batchReadStatus: {
    params: never;
    query: never;
    body: In<typeof schemas.batchReadBody>;
    data: Out<typeof responses.batchReadStatus>;
  };
  uploadKey: {
    params: never;
    query: never;
    body: In<typeof schemas.uploadKeyBody>;
    data: Out<typeof responses.uploadedKey>;
  };
  getKeys: { params: 'user_id'; query: never; body: never; data: Out<typeof responses.publicKeys> };
  verifyKey: {
    params: never;
    query: never;
    body: In<typeof schemas.verifyKeyBody>;
    data: Out<typeof responses.verifiedKey>;
  };
  registerDevice: {
    params: never;
    query: never;
    body: In<typeof schemas.registerDeviceBody>;
    data: Out<typeof responses.device>;
  };
  deleteDevice: {
    params: 'device_id';
    query: never;
    body: never;
    data: Out<typeof responses.removedDevice>;
  };
  sync: { params: never; query: { since?: string; limit?: number }; body: never; data: SyncPage };
  createAttachment: {
    params: 'room_id';
    query: never;
    body: In<typeof schemas.createAttachmentBody>;
    data: Out<typeof responses.uploadSlot>;
  };
  getAttachment: {
    params: 'attachment_id';
    query: never;
    body: never;
    data: Out<typeof responses.attachmentDownload>;
  };
  blockUser: {
    params: 'user_id';
    query: never;
    body: never;
    data: Out<typeof responses.blockEntry>;
  };
  unblockUser: {
    params: 'user_id';
    query: never;
    body: never;
    data: Out<typeof responses.unblocked>;
  };
  listBlocks: { params: never; query: never; body: never; data: Out<typeof responses.blockList> };
  createReport: {
    params: never;
    query: never;
    body: In<typeof schemas.createReportBody>;
    data: Out<typeof responses.createdReport>;
  };
  eraseAccount: {
    params: never;
    query: Query<typeof schemas.eraseAccountQuery>;
    body: never;
    data: Out<typeof responses.eraseAccepted>;
  };
  listReports: {
    params: never;
    query: Query<typeof schemas.listReportsQuery>;
    body: never;
    data: Out<typeof responses.reportList>;
  };
  resolveReport: {
    params: 'report_id';
    query: never;
    body: In<typeof schemas.resolveReportBody>;
    data: Out<typeof responses.resolvedReport>;
  };
  suspendUser: {
    params: 'user_id';
    query: never;
    body: In<typeof schemas.suspensionBody>;
    data: Out<typeof responses.suspension>;
  };
  liftSuspension: {
    params: 'user_id';
    query: never;
    body: never;
    data: Out<typeof responses.suspensionLifted>;
  };
  listAudit: {
    params: never;
    query: Query<typeof schemas.listAuditQuery>;
    body: never;
    data: Out<typeof responses.auditList>;
  };
  getSettings: { params: never; query: never; body: never; data: UserSettings };
  updateSettings: {
    params: never;
    query: never;
    body: In<typeof schemas.updateSettingsBody>;
    data: UserSettings;
  };
}

export type OperationId = keyof Operations;

/** Server → client events (docs/asyncapi.json), by name. */
export type ServerEvents = {
  [K in keyof typeof responses.allServerEventData]: Out<(typeof responses.allServerEventData)[K]>;
};
export type ServerEventName = keyof ServerEvents;
export type ServerFrame = {
  [K in ServerEventName]: { event: K; data: ServerEvents[K] };
}[ServerEventName];
export type MessageConfirmed = ServerEvents['message-confirmed'];
export type ErrorEvent = ServerEvents['error'];

/** Client → server frames (docs/asyncapi.json), by action. */
export interface ClientActions {
  'send-message': In<typeof schemas.wsSendMessage>;
  'mark-messages-seen': In<typeof schemas.markSeenFrame>;
  'room-archive': In<typeof schemas.roomArchiveFrame>;
  ping: Record<string, never>;
  typing: In<typeof schemas.typingFrame>;
  sync: In<typeof responses.contractActions.sync>;
}
export type ClientAction = keyof ClientActions;
