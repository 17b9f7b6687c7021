/**
 * The playground: two local users side by side, each a real client of the
 * stack through client/ (HTTP calls and the realtime connection). Bundled for
 * the browser by local/site.ts with esbuild.
 */
import {
  ChatApiError,
  createChatClient,
  type Message,
  type Operations,
  type RealtimeConnection,
  RealtimeError,
  type Room,
} from '../../client/src/index.ts';

type Child = Node | string | null | undefined | false;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Record<string, string | boolean | ((e: Event) => void)> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (typeof value === 'function') el.addEventListener(key, value);
    else if (value === true) el.setAttribute(key, '');
    else if (value !== false) el.setAttribute(key, value);
  }
  for (const child of children) if (child) el.append(child);
  return el;
}

const config = fetch('/playground/config.json').then((r) => r.json() as Promise<{ wsUrl: string }>);
/** docs/architecture.md "Typing indicators": refresh every 3 s while typing, stop after 3 s idle. */
const TYPING_REFRESH_MS = 3000;
const TYPING_IDLE_MS = 3000;
/** A `user-typing` with no update for this long clears itself (the sender may have gone). */
const TYPING_STALE_MS = 6000;

type ReportReason = Operations['createReport']['body']['reason'];
/** CONTRACT §9's reasons, in its order (a Record, so the type checker sees every reason). */
const REPORT_REASONS: Record<ReportReason, string> = {
  spam: 'Spam',
  harassment: 'Harassment',
  hate: 'Hate',
  sexual: 'Sexual content',
  violence: 'Violence',
  other: 'Other',
};
type Block = Operations['listBlocks']['data']['blocked'][number];

/** An HTTP or WebSocket refusal as `CODE: message`; anything else as it prints. */
function describeError(error: unknown) {
  return error instanceof ChatApiError || error instanceof RealtimeError
    ? `${error.code}: ${error.message}`
    : String(error);
}

class Pane {
  private api!: ReturnType<typeof createChatClient>['api'];
  private realtime!: RealtimeConnection;
  private userId = '';
  private rooms: Room[] = [];
  private archived = false;
  private selected: string | undefined;
  private messages: Message[] = [];
  private sending: { temp: string; content: string }[] = [];
  /** Signed download URLs by attachment id, asked for when a message shows the file. */
  private downloads = new Map<string, Promise<{ url: string; expiresAt: number }>>();
  private seenIds = new Set<string>();
  private typing = new Map<string, { name: string; until: number }>();
  private typingSent = 0;
  private typingIdle: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  /** The users this user blocks, as GET /api/chat/blocks last said. */
  private blocks: Block[] = [];
  /** A line above the composer for the open room: a refused send, a report's outcome. */
  private notice: { roomId: string; text: string; error: boolean; reportId?: string } | undefined;
  /** The report form, while one is open (kept across re-renders of the room). */
  private reportForm: { roomId: string; el: HTMLElement } | undefined;
  private readonly els: Record<string, HTMLElement> = {};

  constructor(private readonly root: HTMLElement) {
    this.renderSignIn();
  }

  private renderSignIn() {
    const user = h('input', {
      name: 'user',
      value: this.root.dataset.user ?? '',
      'aria-label': 'user id',
    });
    const name = h('input', {
      name: 'name',
      value: this.root.dataset.name ?? '',
      'aria-label': 'name',
    });
    const form = h(
      'form',
      {
        class: 'signin',
        submit: (e) => {
          e.preventDefault();
          void this.signIn(user.value.trim(), name.value.trim());
        },
      },
      user,
      name,
      h('button', { type: 'submit', 'data-testid': 'sign-in' }, 'Sign in'),
    );
    this.root.replaceChildren(form);
  }

  private async signIn(userId: string, name: string) {
    const answer = await fetch('/local/token', {
      method: 'POST',
      body: JSON.stringify({ sub: userId, name }),
    });
    const { token } = (await answer.json()) as { token: string };
    this.userId = userId;
    const client = createChatClient({
      httpUrl: location.origin,
      wsUrl: (await config).wsUrl,
      token: () => token,
    });
    this.api = client.api;
    this.realtime = client.realtime;
    this.renderMain(name || userId);
    this.listen();
    this.realtime.start();
    await this.refreshRooms();
    await this.refreshBlocks();
  }

  private renderMain(display: string) {
    const state = h('span', { class: 'state', 'data-testid': 'state' }, 'connecting');
    this.els.state = state;
    this.els.rooms = h('div', { 'data-testid': 'rooms' });
    this.els.chat = h('div', { class: 'chat' }, h('p', { class: 'empty' }, 'Pick a room'));
    this.els.log = h('div', { class: 'log', 'data-testid': 'log' });
    this.els.blocks = h('div', { 'data-testid': 'blocked-list' });
    const blockId = h('input', { placeholder: 'user id to block', 'data-testid': 'block-user' });
    const blockChosen = async () => {
      const userId = blockId.value.trim();
      if (!userId) return;
      await this.setBlocked(userId, true);
      blockId.value = '';
    };
    const ids = h('input', { placeholder: 'user ids, e.g. u_bob', 'data-testid': 'new-members' });
    const groupName = h('input', { placeholder: 'group name (empty: direct)' });
    const archived = h('input', { type: 'checkbox', 'data-testid': 'show-archived' });
    archived.addEventListener('change', () => {
      this.archived = archived.checked;
      void this.refreshRooms();
    });
    const create = async () => {
      const memberIds = ids.value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const room = groupName.value.trim()
        ? await this.api.createRoom({
            type: 'group',
            name: groupName.value.trim(),
            member_ids: memberIds,
          })
        : await this.api.createRoom({ type: 'direct', member_ids: memberIds.slice(0, 1) });
      ids.value = '';
      groupName.value = '';
      await this.refreshRooms();
      await this.open(room.id);
    };
    this.root.replaceChildren(
      h('div', { class: 'who' }, h('strong', {}, `${display} (${this.userId})`), state),
      h(
        'div',
        { class: 'body' },
        h(
          'div',
          { class: 'rooms' },
          h(
            'div',
            { class: 'new' },
            ids,
            groupName,
            h(
              'button',
              { 'data-testid': 'create-room', click: () => void this.guard(create) },
              'Start chat',
            ),
          ),
          h('label', {}, archived, ' archived'),
          this.els.rooms,
          h(
            'div',
            { class: 'blocks' },
            h('strong', {}, 'Blocked users'),
            h(
              'div',
              { class: 'new' },
              blockId,
              h(
                'button',
                { 'data-testid': 'block-chosen', click: () => void this.guard(blockChosen) },
                'Block',
              ),
            ),
            this.els.blocks,
          ),
        ),
        this.els.chat,
      ),
      this.els.log,
    );
  }

  private log(line: string) {
    const log = this.els.log!;
    log.prepend(h('div', {}, `${new Date().toLocaleTimeString()} ${line}`));
    while (log.childElementCount > 40) log.lastElementChild?.remove();
  }

  private async guard(action: () => Promise<unknown>) {
    try {
      await action();
    } catch (error) {
      this.log(describeError(error));
    }
  }

  /** The block list from GET /api/chat/blocks, shown in the sidebar and on the room's button. */
  private async refreshBlocks() {
    await this.guard(async () => {
      this.blocks = (await this.api.listBlocks()).blocked;
      this.renderBlocks();
      if (this.selected) this.renderChat();
    });
  }

  /**
   * PUT or DELETE /api/chat/blocks/:user_id, then the list as the server now has it. The direct
   * room with that user (if any) says what changed, replacing an older "Not sent" there.
   */
  private async setBlocked(userId: string, blocked: boolean) {
    try {
      if (blocked) await this.api.blockUser(userId);
      else await this.api.unblockUser(userId);
      this.log(`${blocked ? 'blocked' : 'unblocked'} ${userId}`);
      const direct = this.rooms.find((r) => r.type === 'direct' && r.members.includes(userId));
      if (direct)
        this.notice = {
          roomId: direct.id,
          text: blocked
            ? `You block ${userId}: neither of you can send here until you unblock.`
            : `You no longer block ${userId}.`,
          error: false,
        };
    } finally {
      await this.refreshBlocks();
    }
  }

  private isBlocked(userId: string) {
    return this.blocks.some((b) => b.user_id === userId);
  }

  private renderBlocks() {
    this.els.blocks!.replaceChildren(
      ...(this.blocks.length
        ? this.blocks.map((b) =>
            h(
              'div',
              { class: 'blocked', 'data-testid': 'blocked', 'data-user': b.user_id },
              h('span', { title: `since ${b.blocked_at}` }, b.user_id),
              h(
                'button',
                {
                  'data-testid': 'unblock',
                  click: () => void this.guard(() => this.setBlocked(b.user_id, false)),
                },
                'unblock',
              ),
            ),
          )
        : [h('p', { class: 'empty', 'data-testid': 'no-blocks' }, 'No one blocked')]),
    );
  }

  private listen() {
    const rt = this.realtime;
    rt.on('state', (s) => {
      this.els.state!.textContent = s;
      this.els.state!.className = `state ${s}`;
      this.log(`connection ${s}`);
    });
    rt.on('new-chat-message', ({ message }) => {
      this.log(`new message from ${message.sender_id}`);
      if (message.room_id === this.selected && !this.messages.some((m) => m.id === message.id)) {
        this.messages.unshift(message);
        this.typing.delete(message.room_id);
        this.renderChat();
        this.markRead([message]);
      }
      this.scheduleRefresh();
    });
    rt.on('messages-seen', ({ message_ids, seen_by }) => {
      this.log(`${seen_by.user_name} saw ${message_ids.length} message(s)`);
      for (const id of message_ids) this.seenIds.add(id);
      this.renderChat();
    });
    rt.on('user-typing', ({ room_id, user_name, is_typing }) => {
      if (is_typing)
        this.typing.set(room_id, { name: user_name, until: Date.now() + TYPING_STALE_MS });
      else this.typing.delete(room_id);
      this.renderTyping();
      setTimeout(() => this.renderTyping(), TYPING_STALE_MS + 50);
    });
    rt.on('message-deleted', ({ room_id }) => {
      if (room_id === this.selected) void this.loadMessages();
      this.scheduleRefresh();
    });
    for (const event of [
      'unread-count-update',
      'room-archived',
      'room-deleted',
      'room-messages-cleared',
      'room-member-added',
      'room-member-removed',
    ] as const) {
      rt.on(event, () => {
        this.log(event);
        this.scheduleRefresh();
        if (event === 'room-messages-cleared') void this.loadMessages();
      });
    }
    // Blocks made or lifted on another device of this user (CONTRACT §9: synced).
    for (const event of ['user-blocked', 'user-unblocked'] as const)
      rt.on(event, ({ user_id }) => {
        this.log(`${event} ${user_id}`);
        void this.refreshBlocks();
      });
    rt.on('error', (e) => this.log(`error ${e.code} (${e.action}): ${e.message}`));
  }

  private scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refreshRooms(), 150);
  }

  private async refreshRooms() {
    await this.guard(async () => {
      this.rooms = (await this.api.listRooms({ archived: this.archived })).rooms;
      this.renderRooms();
    });
  }

  private roomTitle(room: Room) {
    return room.type === 'group'
      ? (room.name ?? 'group')
      : (room.members.find((m) => m !== this.userId) ?? 'direct');
  }

  private renderRooms() {
    const list = this.rooms.map((room) =>
      h(
        'div',
        {
          class: `room${room.id === this.selected ? ' selected' : ''}`,
          'data-testid': 'room',
          'data-room': room.id,
          click: () => void this.open(room.id),
        },
        h(
          'div',
          { class: 'name' },
          h('span', {}, `${this.roomTitle(room)}${room.is_muted ? ' 🔕' : ''}`),
          room.unread_count > 0 &&
            h('span', { class: 'badge', 'data-testid': 'badge' }, String(room.unread_count)),
        ),
        h('div', { class: 'last' }, summary(room)),
      ),
    );
    this.els.rooms!.replaceChildren(
      ...(list.length
        ? list
        : [h('p', { class: 'empty' }, this.archived ? 'No archived rooms' : 'No rooms yet')]),
    );
  }

  private async open(roomId: string) {
    if (roomId !== this.selected) this.reportForm = undefined;
    this.selected = roomId;
    this.renderRooms();
    await this.loadMessages();
    this.markRead(this.messages);
  }

  /** Receipts to the senders (mark-messages-seen) and the read marker, so the badge clears. */
  private markRead(messages: Message[]) {
    const roomId = this.selected;
    const others = messages.filter((m) => m.sender_id !== this.userId).map((m) => m.id);
    if (!roomId || others.length === 0) return;
    // One after the other: the server's read marker is moved by both.
    void this.guard(async () => {
      await this.api.readStatus(roomId, { is_read: true });
      this.realtime.markSeen(roomId, others.slice(0, 100));
      this.scheduleRefresh();
    });
  }

  private async loadMessages() {
    const roomId = this.selected;
    if (!roomId) return;
    await this.guard(async () => {
      const page = await this.api.listMessages(roomId, { limit: 50 });
      if (roomId !== this.selected) return;
      this.messages = page.messages;
      this.renderChat();
    });
  }

  private renderTyping() {
    const el = this.els.typing;
    if (!el || !this.selected) return;
    const t = this.typing.get(this.selected);
    el.textContent = t && t.until > Date.now() ? `${t.name} is typing…` : '';
  }

  private renderChat() {
    const room = this.rooms.find((r) => r.id === this.selected);
    if (!this.selected) return;
    const roomId = this.selected;
    /** The other member of a direct room: the one the Block button acts on. */
    const other = room?.type === 'direct' ? room.members.find((m) => m !== this.userId) : undefined;
    const act = (label: string, testid: string, run: () => Promise<unknown>) =>
      h(
        'button',
        {
          'data-testid': testid,
          click: () =>
            void this.guard(async () => {
              await run();
              await this.refreshRooms();
            }),
        },
        label,
      );
    const tools = h(
      'div',
      { class: 'tools' },
      h('strong', {}, room ? this.roomTitle(room) : roomId),
      act(room?.is_archived ? 'Unarchive' : 'Archive', 'archive', () =>
        this.api.archiveRoom(roomId, { is_archived: !room?.is_archived }),
      ),
      act(room?.is_muted ? 'Unmute' : 'Mute', 'mute', () =>
        this.api.muteRoom(roomId, { is_muted: !room?.is_muted }),
      ),
      act('Clear for me', 'clear', async () => {
        await this.api.clearMessages(roomId);
        await this.loadMessages();
      }),
      act('Delete chat', 'delete-room', async () => {
        await this.api.deleteRoom(roomId);
        this.selected = undefined;
        this.els.chat!.replaceChildren(h('p', { class: 'empty' }, 'Pick a room'));
      }),
      other &&
        act(this.isBlocked(other) ? `Unblock ${other}` : `Block ${other}`, 'block', () =>
          this.setBlocked(other, !this.isBlocked(other)),
        ),
    );
    const items = [...this.messages].reverse().map((m) => {
      const mine = m.sender_id === this.userId;
      return h(
        'div',
        { class: `msg${mine ? ' mine' : ''}`, 'data-testid': 'message' },
        m.content && h('div', {}, m.content),
        ...m.attachments.map((a) => this.renderAttachment(a)),
        h(
          'div',
          { class: 'meta' },
          h('span', {}, `${m.sender_name} · ${new Date(m.created_at).toLocaleTimeString()}`),
          mine &&
            h('span', { 'data-testid': 'receipt' }, this.seenIds.has(m.id) ? 'seen ✓✓' : 'sent ✓'),
          mine &&
            h(
              'button',
              { click: () => void this.guard(() => this.api.deleteMessage(m.id)) },
              'delete',
            ),
          !mine &&
            h(
              'button',
              { 'data-testid': 'report', click: () => this.openReport(roomId, m) },
              'report',
            ),
        ),
      );
    });
    for (const s of this.sending)
      items.push(
        h(
          'div',
          { class: 'msg mine' },
          h('div', {}, s.content),
          h('div', { class: 'meta' }, 'sending…'),
        ),
      );
    const messages = h('div', { class: 'messages', 'data-testid': 'messages' }, ...items);
    const input = h('input', { placeholder: 'Message', 'data-testid': 'composer' });
    input.addEventListener('input', () => this.onTyping(roomId));
    const picker = h('input', { type: 'file', accept: 'image/*', 'data-testid': 'attach' });
    picker.addEventListener('change', () => {
      const file = picker.files?.[0];
      if (file) void this.send(roomId, '', file);
      picker.value = '';
    });
    const form = h(
      'form',
      {
        class: 'composer',
        submit: (e) => {
          e.preventDefault();
          const content = input.value.trim();
          if (content) void this.send(roomId, content);
          input.value = '';
        },
      },
      input,
      h('label', { class: 'attach', title: 'Send a picture' }, '📎', picker),
      h('button', { type: 'submit', 'data-testid': 'send' }, 'Send'),
    );
    this.els.typing = h('div', { class: 'typing', 'data-testid': 'typing' });
    const notice = this.notice?.roomId === roomId ? this.notice : undefined;
    const focused = document.activeElement?.getAttribute('data-testid') === 'composer';
    const parts: Child[] = [
      tools,
      messages,
      this.els.typing,
      this.reportForm?.roomId === roomId && this.reportForm.el,
      notice &&
        h(
          'div',
          { class: `notice${notice.error ? ' error' : ''}`, 'data-testid': 'notice' },
          notice.text,
          notice.reportId && h('code', { 'data-testid': 'report-id' }, notice.reportId),
          h('button', { click: () => this.setNotice(undefined) }, '×'),
        ),
      form,
    ];
    this.els.chat!.replaceChildren(...parts.filter((p): p is Node | string => !!p));
    this.renderTyping();
    messages.scrollTop = messages.scrollHeight;
    if (focused) input.focus();
  }

  private setNotice(notice: Pane['notice']) {
    this.notice = notice;
    this.renderChat();
  }

  /** The report form for one message: a reason from CONTRACT §9's list and an optional note. */
  private openReport(roomId: string, message: Message) {
    const reason = h(
      'select',
      { 'data-testid': 'report-reason', 'aria-label': 'reason' },
      ...Object.entries(REPORT_REASONS).map(([value, label]) => h('option', { value }, label)),
    );
    const note = h('input', {
      placeholder: 'note (optional)',
      'data-testid': 'report-note',
      'aria-label': 'note',
    });
    const close = () => {
      this.reportForm = undefined;
      this.renderChat();
    };
    const submit = async () => {
      try {
        const { report_id } = await this.api.report({
          message_id: message.id,
          reason: reason.value as ReportReason,
          ...(note.value.trim() ? { note: note.value.trim() } : {}),
        });
        this.log(`reported message ${message.id}: ${report_id}`);
        this.reportForm = undefined;
        this.setNotice({ roomId, text: 'Report sent, id ', error: false, reportId: report_id });
      } catch (error) {
        this.setNotice({ roomId, text: `Report not sent — ${describeError(error)}`, error: true });
      }
    };
    const el = h(
      'form',
      {
        class: 'report',
        'data-testid': 'report-form',
        submit: (e) => {
          e.preventDefault();
          void submit();
        },
      },
      h('span', {}, `Report ${message.sender_name}'s message:`),
      reason,
      note,
      h('button', { type: 'submit', 'data-testid': 'report-submit' }, 'Report'),
      h('button', { type: 'button', click: close }, 'Cancel'),
    );
    this.reportForm = { roomId, el };
    this.renderChat();
    reason.focus();
  }

  /** Typing indicators: `true` at most every 3 s while typing, `false` after 3 s idle. */
  private onTyping(roomId: string) {
    if (Date.now() - this.typingSent > TYPING_REFRESH_MS) {
      this.typingSent = Date.now();
      this.realtime.typing(roomId, true);
    }
    clearTimeout(this.typingIdle);
    this.typingIdle = setTimeout(() => {
      this.typingSent = 0;
      this.realtime.typing(roomId, false);
    }, TYPING_IDLE_MS);
  }

  /** A signed URL for an attachment, asked for again once the last one is about to expire. */
  private download(id: string) {
    const ask = () => {
      const p = this.api
        .getAttachment(id)
        .then((d) => ({ url: d.url, expiresAt: Date.parse(d.expires_at) }));
      p.catch(() => this.downloads.delete(id));
      this.downloads.set(id, p);
      return p;
    };
    const cached = this.downloads.get(id);
    if (!cached) return ask();
    return cached.then((d) => (d.expiresAt - Date.now() > 30_000 ? d : ask()));
  }

  /** A picture shows as an image, any other file as a link with its name and size. */
  private renderAttachment(a: Message['attachments'][number]) {
    const name = a.file_name ?? 'file';
    const el =
      a.content_type.startsWith('image/') && !a.is_encrypted
        ? h('img', { class: 'picture', alt: name, 'data-testid': 'attachment-image' })
        : h(
            'a',
            { class: 'file', target: '_blank', 'data-testid': 'attachment-link' },
            `📎 ${name} (${formatSize(a.size_bytes)})${a.is_encrypted ? ' 🔒' : ''}`,
          );
    void this.guard(async () => {
      const { url } = await this.download(a.id);
      if (el instanceof HTMLImageElement) el.src = url;
      else el.setAttribute('href', url);
    });
    return el;
  }

  private async send(roomId: string, content: string, file?: File) {
    const temp = `${Date.now()}-${Math.random()}`;
    this.sending.push({ temp, content: file ? `📎 ${file.name}` : content });
    this.renderChat();
    try {
      const attachmentIds = file
        ? [
            await this.api.uploadAttachment(roomId, file, {
              fileName: file.name,
              contentType: file.type,
            }),
          ]
        : undefined;
      await this.realtime.sendMessage({
        room_id: roomId,
        content,
        temp_id: temp,
        ...(attachmentIds ? { attachment_ids: attachmentIds } : {}),
      });
      this.realtime.typing(roomId, false);
      if (this.notice?.roomId === roomId && this.notice.error) this.notice = undefined;
    } catch (error) {
      this.log(`send failed: ${describeError(error)}`);
      const other = this.rooms
        .find((r) => r.id === roomId && r.type === 'direct')
        ?.members.find((m) => m !== this.userId);
      const hint =
        error instanceof RealtimeError && error.code === 'BLOCKED' && other && this.isBlocked(other)
          ? ` (you block ${other}: unblock to write again)`
          : '';
      this.notice = { roomId, text: `Not sent — ${describeError(error)}${hint}`, error: true };
    } finally {
      this.sending = this.sending.filter((s) => s.temp !== temp);
    }
    await this.loadMessages();
    this.scheduleRefresh();
  }
}

function formatSize(bytes: number) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A room's last message in the list: its text, or what stands for a file or ciphertext. */
function summary(room: Room) {
  const last = room.last_message;
  if (!last) return '';
  return last.content || (last.is_encrypted ? '🔒 encrypted' : '📎 attachment');
}

for (const root of document.querySelectorAll<HTMLElement>('.pane')) new Pane(root);
