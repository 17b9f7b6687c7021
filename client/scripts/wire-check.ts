/**
 * Type-checked with the repository (`npx tsc --noEmit`): each generated wire
 * type (client/src/wire.ts) is exactly the type the server's schemas give
 * (client/scripts/wire-spec.ts). Nothing here runs.
 */
import type * as generated from '../src/wire.ts';
import type * as spec from './wire-spec.ts';

type Same<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

export const same = {
  Message: true satisfies Same<generated.Message, spec.Message>,
  MessageSummary: true satisfies Same<generated.MessageSummary, spec.MessageSummary>,
  Room: true satisfies Same<generated.Room, spec.Room>,
  RoomPage: true satisfies Same<generated.RoomPage, spec.RoomPage>,
  MessagePage: true satisfies Same<generated.MessagePage, spec.MessagePage>,
  SentMessage: true satisfies Same<generated.SentMessage, spec.SentMessage>,
  SyncPage: true satisfies Same<generated.SyncPage, spec.SyncPage>,
  UserSettings: true satisfies Same<generated.UserSettings, spec.UserSettings>,
  Operations: true satisfies Same<generated.Operations, spec.Operations>,
  OperationId: true satisfies Same<generated.OperationId, spec.OperationId>,
  ServerEvents: true satisfies Same<generated.ServerEvents, spec.ServerEvents>,
  ServerEventName: true satisfies Same<generated.ServerEventName, spec.ServerEventName>,
  ServerFrame: true satisfies Same<generated.ServerFrame, spec.ServerFrame>,
  MessageConfirmed: true satisfies Same<generated.MessageConfirmed, spec.MessageConfirmed>,
  ErrorEvent: true satisfies Same<generated.ErrorEvent, spec.ErrorEvent>,
  ClientActions: true satisfies Same<generated.ClientActions, spec.ClientActions>,
  ClientAction: true satisfies Same<generated.ClientAction, spec.ClientAction>,
};
