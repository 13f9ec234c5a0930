import type { Server, Socket } from 'socket.io';

/**
 * The parts of engine.io's connection this fast path reads. They are not in
 * engine.io's public types, but they are what socket.io-adapter and
 * engine.io's WebSocket transport themselves use for a pre-encoded broadcast
 * (`transport.socket._sender.sendFrame`), so they move together with them.
 */
interface EngineConnection {
  readyState: string;
  upgrading: boolean;
  writeBuffer: unknown[];
  transport: {
    name: string;
    writable: boolean;
    perMessageDeflate?: unknown;
    socket?: { readyState?: number; _sender?: { _queue?: unknown[]; sendFrame?: (list: Buffer[], cb?: () => void) => void } };
  };
}

const WS_OPEN = 1;
/** The socket.io protocol's EVENT packet type (socket.io-parser's PacketType.EVENT). */
const EVENT = 2;

/** One unmasked, final text frame (RFC 6455 §5.2) holding `payload`: header and data in one buffer, so one write per socket. */
export function textFrame(payload: string): Buffer {
  const data = Buffer.from(payload);
  const length = data.length;
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN + text opcode
  if (length < 126) frame[1] = length;
  else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  data.copy(frame, header);
  return frame;
}

/**
 * The WebSocket frame socket.io would send for an EVENT packet: engine.io's
 * message type (4) and the encoded packet, in one text frame. Undefined when
 * the packet does not encode to one string (binary attachments, a custom
 * parser): socket.io's own emit handles those.
 */
function eventFrame(encoder: Server['encoder'], nsp: string, event: string, payload: unknown): Buffer | undefined {
  const encoded = encoder.encode({ type: EVENT, data: [event, payload], nsp }) as unknown[];
  return encoded.length === 1 && typeof encoded[0] === 'string' ? textFrame(`4${encoded[0]}`) : undefined;
}

export interface LocalBroadcastResult {
  /** Sockets written to straight from the shared frames: one write each, however many of the messages it gets. */
  direct: number;
  /** Messages that went through socket.io's own emit (another transport, something already queued, binary). */
  queued: number;
  /** Messages delivered in all, one per socket and message, whichever way. */
  delivered: number;
}

/** One message for the sockets of `room` on this instance, but those in `except`. */
export interface LocalEmit {
  room: string;
  event: string;
  payload: unknown;
  except?: ReadonlySet<string>;
}

/** What emitToLocalRooms needs of a socket.io Server, whatever its event maps. */
export interface LocalBroadcastIo {
  readonly encoder: Server['encoder'];
  of(name: '/'): { adapter: { rooms: Map<string, Set<string>> }; sockets: Map<string, unknown> };
}

/**
 * Emits each message to its room's sockets on THIS instance only (like
 * `io.local.to(room).except(except).emit(event, payload)` for each, in
 * order), encoding each packet and its WebSocket frame once and giving each
 * idle WebSocket connection all of its frames in ONE write.
 *
 * Why: a signal goes to hundreds of sockets at once, and socket.io's
 * broadcast spends as much CPU per socket in engine.io's packet machinery
 * (packet object, writeBuffer, flush/drain events, send callbacks) and a
 * corked two-buffer write as in the kernel's write itself — measured ~21 µs
 * vs ~15 µs per socket. Several messages at once (a candle close signals
 * many pairs; a backlog after a stall) cost one write per socket, not one
 * per message. The bytes are exactly those socket.io would send.
 *
 * Order is kept: a socket takes the direct write only when engine.io holds
 * nothing for it (empty writeBuffer, transport writable, open, not
 * upgrading) and all its messages encode to text; otherwise all its
 * messages go through `socket.emit`, in order, behind what is queued.
 * Either way the bytes end in the same TCP stream in call order. Sockets on
 * long-polling, with per-message deflate, or with outgoing listeners
 * (`onAnyOutgoing`) always take socket.emit.
 */
export function emitToLocalRooms(io: LocalBroadcastIo, emits: readonly LocalEmit[]): LocalBroadcastResult {
  const result: LocalBroadcastResult = { direct: 0, queued: 0, delivered: 0 };
  const nsp = io.of('/');
  /** socket id → indexes of the messages it gets, in order. */
  const audience = new Map<string, number[]>();
  for (let i = 0; i < emits.length; i++) {
    const { room, except } = emits[i]!;
    const ids = nsp.adapter.rooms.get(room);
    if (!ids) continue;
    for (const id of ids) {
      if (except?.has(id)) continue;
      const list = audience.get(id);
      if (list) list.push(i);
      else audience.set(id, [i]);
    }
  }
  if (!audience.size) return result;
  const frames = emits.map(({ event, payload }) => eventFrame(io.encoder, '/', event, payload));
  // Sockets of the same rooms get the same messages: their concatenated frames are built once.
  const joined = new Map<string, Buffer>();
  const framesFor = (indexes: number[]) => {
    if (indexes.length === 1) return frames[indexes[0]!]!;
    const key = indexes.join(',');
    let buffer = joined.get(key);
    if (!buffer) joined.set(key, (buffer = Buffer.concat(indexes.map((i) => frames[i]!))));
    return buffer;
  };
  for (const [id, indexes] of audience) {
    // Gone since the room was read (a socket leaving inside an emit): like the adapter, skip it.
    const socket = nsp.sockets.get(id) as Socket | undefined;
    if (!socket) continue;
    const sendFrame = indexes.every((i) => frames[i]) ? idleWebSocketSender(socket) : undefined;
    if (sendFrame) {
      sendFrame(framesFor(indexes));
      result.direct++;
      result.delivered += indexes.length;
      continue;
    }
    for (const i of indexes) {
      (socket.emit as (ev: string, ...args: unknown[]) => boolean)(emits[i]!.event, emits[i]!.payload);
      result.queued++;
      result.delivered++;
    }
  }
  return result;
}

function idleWebSocketSender(socket: Socket): ((frame: Buffer) => void) | undefined {
  const conn = socket.conn as unknown as EngineConnection;
  const transport = conn.transport;
  const ws = transport.socket;
  const sender = ws?._sender;
  if (
    conn.readyState !== 'open' ||
    conn.upgrading ||
    transport.name !== 'websocket' ||
    !transport.writable ||
    transport.perMessageDeflate ||
    conn.writeBuffer.length > 0 ||
    ws?.readyState !== WS_OPEN ||
    typeof sender?.sendFrame !== 'function' ||
    // ws queues frames while it compresses or reads a Blob; never overtake them.
    (sender._queue?.length ?? 0) > 0 ||
    socket.listenersAnyOutgoing().length > 0
  )
    return undefined;
  return (frame) => sender.sendFrame!([frame]);
}

/**
 * `socket.emit(event, payload)` for one socket, by emitToLocalRooms' direct
 * write when its WebSocket is idle (else socket.emit itself, in order behind
 * what engine.io holds). For an answer's `chat:token`s: one socket, tens of
 * events an answer, thousands a second across answers, where engine.io's
 * packet machinery cost a quarter of each event's CPU beside the write.
 * True when written directly.
 */
export function emitToSocket(socket: Socket, event: string, payload: unknown): boolean {
  const sendFrame = idleWebSocketSender(socket);
  const frame = sendFrame && eventFrame(socket.nsp.server.encoder, socket.nsp.name, event, payload);
  if (frame) {
    sendFrame(frame);
    return true;
  }
  (socket.emit as (ev: string, ...args: unknown[]) => boolean)(event, payload);
  return false;
}
