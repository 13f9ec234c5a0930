import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitToLocalRooms, emitToSocket, textFrame } from './local-broadcast';

let http: HttpServer;
let io: Server;
let url: string;
const clients: ClientSocket[] = [];
/** Server-side socket by the name the client gave in its handshake. */
const byName = new Map<string, ServerSocket>();

interface Probe {
  socket: ClientSocket;
  /** Every event received, in order: [event, ...args]. */
  events: unknown[][];
  /** The raw engine.io message packets of events, in order (the exact text socket.io put on the wire). */
  raw: string[];
  /** Its socket on the server. */
  server: ServerSocket;
}

async function probe(name: string, transports: Array<'websocket' | 'polling'>): Promise<Probe> {
  const socket = connect(url, { auth: { name }, transports, forceNew: true, reconnection: false });
  clients.push(socket);
  const events: unknown[][] = [];
  const raw: string[] = [];
  socket.onAny((...args: unknown[]) => events.push(args));
  // "2…" is a socket.io EVENT packet (the others here: CONNECT).
  socket.io.on('open', () => socket.io.engine.on('packet', (packet) => packet.type === 'message' && String(packet.data).startsWith('2') && raw.push(String(packet.data))));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
  await until(() => byName.has(name), `${name} on the server`);
  return { socket, events, raw, server: byName.get(name)! };
}

/** Disconnects and waits until the server has let go of the socket (and its room). */
async function close(...probes: Probe[]): Promise<void> {
  for (const p of probes) p.socket.disconnect();
  await until(() => probes.every((p) => p.server.disconnected && !io.of('/').adapter.rooms.get('room')?.has(p.server.id)), 'the disconnects');
}

/** Lets every write in flight complete, so engine.io's transports are idle again. */
const settle = () => new Promise((r) => setTimeout(r, 20));

/** One message to every socket of 'room' on this server. */
const emitToRoom = (event: string, payload: unknown, except?: ReadonlySet<string>) =>
  emitToLocalRooms(io, [{ room: 'room', event, payload, except }]);

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

beforeAll(async () => {
  http = createServer();
  io = new Server(http);
  io.on('connection', (socket) => {
    byName.set(String(socket.handshake.auth.name), socket);
    void socket.join('room');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await new Promise<void>((resolve) => io?.close(() => resolve()));
});

describe('emitToLocalRooms', () => {
  it('puts on the wire exactly the text socket.io’s own room emit does, to every socket of the room but the excluded ones', async () => {
    const a = await probe('a', ['websocket']);
    const b = await probe('b', ['websocket']);
    const polling = await probe('polling', ['polling']);
    const excluded = await probe('excluded', ['websocket']);
    const all = [a, b, polling, excluded];
    // Short, 126–65,535 bytes and ≥ 65,536 bytes: the three WebSocket length encodings; multi-byte characters count in bytes.
    const payloads = [
      { id: 1, detail: 'rsi14 28 (≤ 30, oversold)' },
      { id: 2, detail: '≤'.repeat(200) },
      { id: 3, detail: 'x'.repeat(70_000) },
    ];
    for (const payload of payloads) {
      io.to('room').emit('signal:new', payload);
      await settle();
      const result = emitToRoom('signal:new', payload, new Set([excluded.server.id]));
      // The polling socket cannot take a WebSocket frame: it goes through socket.io's emit.
      expect(result).toEqual({ direct: 2, queued: 1, delivered: 3 });
    }
    await until(() => [a, b, polling].every((p) => p.events.length === 6) && excluded.events.length === 3, 'every delivery');
    for (const p of [a, b, polling]) {
      expect(p.events).toEqual(payloads.flatMap((payload) => [['signal:new', payload], ['signal:new', payload]]));
      // Pairwise identical: socket.io's emit, then ours.
      for (let i = 0; i < 6; i += 2) expect(p.raw[i + 1]).toBe(p.raw[i]);
    }
    expect(excluded.events).toEqual(payloads.map((payload) => ['signal:new', payload]));
    await close(...all);
  });

  it('keeps each socket’s order when socket.io is still writing an earlier packet to it', async () => {
    const c = await probe('ordered', ['websocket']);
    const server = c.server;
    let queued = 0;
    for (let i = 0; i < 50; i++) {
      // The first emit is written at once and leaves engine.io's transport busy until the write completes;
      // the second waits in engine.io's buffer. The broadcast must not overtake it.
      server.emit('before', i, 1);
      server.emit('before', i, 2);
      queued += emitToRoom('signal:new', { id: i }).queued;
      server.emit('after', i);
    }
    await until(() => c.events.length === 200, '200 events');
    expect(c.events).toEqual(
      Array.from({ length: 50 }, (_, i) => [['before', i, 1], ['before', i, 2], ['signal:new', { id: i }], ['after', i]]).flat(),
    );
    expect(queued).toBe(50);
    // Once idle, the same socket takes the direct write, still in order with what follows.
    await settle();
    expect(emitToRoom('signal:new', { id: 'idle' })).toEqual({ direct: 1, queued: 0, delivered: 1 });
    server.emit('after', 'idle');
    await until(() => c.events.length === 202, 'the idle pair');
    expect(c.events.slice(200)).toEqual([['signal:new', { id: 'idle' }], ['after', 'idle']]);
    await close(c);
  });

  it('leaves binary payloads and sockets with outgoing listeners to socket.io', async () => {
    const c = await probe('binary', ['websocket']);
    await settle();
    expect(emitToRoom('blob', { bytes: Buffer.from([1, 2, 3]) })).toEqual({ direct: 0, queued: 1, delivered: 1 });
    const seen: unknown[] = [];
    c.server.onAnyOutgoing((...args) => seen.push(args));
    await settle();
    expect(emitToRoom('signal:new', { id: 9 })).toEqual({ direct: 0, queued: 1, delivered: 1 });
    await until(() => c.events.length === 2, 'both events');
    expect(c.events[0]![0]).toBe('blob');
    expect(Buffer.from((c.events[0]![1] as { bytes: ArrayBuffer }).bytes as never)).toEqual(Buffer.from([1, 2, 3]));
    expect(c.events[1]).toEqual(['signal:new', { id: 9 }]);
    expect(seen).toEqual([['signal:new', { id: 9 }]]);
    await close(c);
  });

  it('gives each socket all of its messages of one call in one write, in order, each room and exception honoured', async () => {
    const both = await probe('both', ['websocket']);
    const onlyRoom = await probe('onlyRoom', ['websocket']);
    const polling = await probe('pollingBatch', ['polling']);
    await both.server.join('other');
    await polling.server.join('other');
    await settle();
    const result = emitToLocalRooms(io, [
      { room: 'room', event: 'signal:new', payload: { id: 1 } },
      { room: 'other', event: 'signal:new', payload: { id: 2 } },
      { room: 'room', event: 'signal:new', payload: { id: 3 }, except: new Set([onlyRoom.server.id]) },
      { room: 'nobody', event: 'signal:new', payload: { id: 4 } },
      { room: 'room', event: 'signal:new', payload: { id: 5 } },
    ]);
    // Two WebSocket sockets, one write each; the polling socket's four messages go through socket.emit.
    expect(result).toEqual({ direct: 2, queued: 4, delivered: 4 + 2 + 4 });
    await until(() => both.events.length === 4 && onlyRoom.events.length === 2 && polling.events.length === 4, 'the batch');
    const ids = (p: Probe) => p.events.map((e) => (e[1] as { id: number }).id);
    expect(ids(both)).toEqual([1, 2, 3, 5]);
    expect(ids(onlyRoom)).toEqual([1, 5]);
    expect(ids(polling)).toEqual([1, 2, 3, 5]);
    // A binary message among them: that socket's messages all take socket.emit, still in order.
    await settle();
    const mixed = emitToLocalRooms(io, [
      { room: 'other', event: 'signal:new', payload: { id: 6 } },
      { room: 'other', event: 'blob', payload: { id: 7, bytes: Buffer.from([7]) } },
      { room: 'room', event: 'signal:new', payload: { id: 8 } },
    ]);
    expect(mixed).toEqual({ direct: 1, queued: 6, delivered: 7 });
    await until(() => both.events.length === 7 && onlyRoom.events.length === 3, 'the mixed batch');
    expect(ids(both).slice(4)).toEqual([6, 7, 8]);
    expect(ids(onlyRoom).slice(2)).toEqual([8]);
    await close(both, onlyRoom, polling);
  });

  it('frames a text message as RFC 6455 requires, header and data in one buffer', () => {
    expect([...textFrame('4hi')]).toEqual([0x81, 3, 0x34, 0x68, 0x69]);
    const medium = textFrame('é'.repeat(100)); // 200 bytes
    expect([...medium.subarray(0, 4)]).toEqual([0x81, 126, 0, 200]);
    const large = textFrame('y'.repeat(70_000));
    expect([...large.subarray(0, 10)]).toEqual([0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    expect(large.length).toBe(70_010);
  });
});

describe('emitToSocket', () => {
  it('puts on the wire exactly the text socket.emit does, written directly when the WebSocket is idle', async () => {
    const c = await probe('single', ['websocket']);
    const payloads = [{ id: 'a', delta: 'BTC ≤ 97,500', seq: 0 }, { id: 'a', delta: 'z'.repeat(300), seq: 1 }, { id: 'a', delta: 'y'.repeat(70_000), seq: 2 }];
    for (const payload of payloads) {
      c.server.emit('chat:token', payload);
      await settle();
      expect(emitToSocket(c.server, 'chat:token', payload)).toBe(true);
    }
    await until(() => c.events.length === 6, 'six tokens');
    expect(c.events).toEqual(payloads.flatMap((p) => [['chat:token', p], ['chat:token', p]]));
    for (let i = 0; i < 6; i += 2) expect(c.raw[i + 1]).toBe(c.raw[i]);
    await close(c);
  });

  it('keeps the order behind what engine.io still holds, and leaves polling and binary to socket.emit', async () => {
    const c = await probe('single-ordered', ['websocket']);
    let direct = 0;
    for (let i = 0; i < 50; i++) {
      c.server.emit('before', i);
      c.server.emit('before', i, 2);
      if (emitToSocket(c.server, 'chat:token', { seq: i })) direct++;
      c.server.emit('after', i);
    }
    await until(() => c.events.length === 200, '200 events');
    expect(c.events).toEqual(Array.from({ length: 50 }, (_, i) => [['before', i], ['before', i, 2], ['chat:token', { seq: i }], ['after', i]]).flat());
    expect(direct).toBe(0);
    await settle();
    expect(emitToSocket(c.server, 'blob', { bytes: Buffer.from([1]) })).toBe(false);
    const polling = await probe('single-polling', ['polling']);
    await settle();
    expect(emitToSocket(polling.server, 'chat:token', { seq: 0 })).toBe(false);
    await until(() => c.events.length === 201 && polling.events.length === 1, 'the fallbacks');
    expect(polling.events).toEqual([['chat:token', { seq: 0 }]]);
    await close(c, polling);
  });
});
