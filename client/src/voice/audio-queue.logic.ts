/**
 * Ordering and scheduling of streamed audio, kept free of browser APIs so it
 * can be tested. Two steps:
 *  1. `pushChunk` puts `chat:audio` chunks in `seq` order, drops duplicates
 *     (a resume replays), and reports the end once the `final` chunk has been
 *     reached in order.
 *  2. `feed` decides when bytes may go to a MediaSource SourceBuffer: only
 *     when it is open and not `updating` (appending during an update throws),
 *     coalescing whatever queued meanwhile into one append, and ending the
 *     stream only after the last append has finished. Appending in order
 *     into one SourceBuffer is what makes playback gap-free: the decoder sees
 *     one continuous MP3 stream.
 */

export interface AudioChunk {
  seq: number;
  data: Uint8Array;
  final?: boolean;
}

export interface ChunkOrder {
  nextSeq: number;
  held: ReadonlyMap<number, AudioChunk>;
  ended: boolean;
}

export function createChunkOrder(): ChunkOrder {
  return { nextSeq: 0, held: new Map(), ended: false };
}

export function pushChunk(order: ChunkOrder, chunk: AudioChunk): { order: ChunkOrder; ready: Uint8Array[]; ended: boolean } {
  if (order.ended || !Number.isInteger(chunk.seq) || chunk.seq < order.nextSeq || order.held.has(chunk.seq)) {
    return { order, ready: [], ended: false };
  }
  const held = new Map(order.held);
  held.set(chunk.seq, chunk);
  const ready: Uint8Array[] = [];
  let nextSeq = order.nextSeq;
  let ended = false;
  for (let next = held.get(nextSeq); next; next = held.get(nextSeq)) {
    held.delete(nextSeq);
    nextSeq += 1;
    if (next.data.byteLength > 0) ready.push(next.data);
    if (next.final) {
      ended = true;
      held.clear(); // anything numbered after the end is noise
      break;
    }
  }
  return { order: { nextSeq, held, ended }, ready, ended };
}

export interface FeederState {
  open: boolean;
  updating: boolean;
  pending: Uint8Array[];
  endRequested: boolean;
  ended: boolean;
  /** Bytes handed to the SourceBuffer so far (for diagnostics and tests). */
  appendedBytes: number;
}

export type FeederEvent = { type: 'open' } | { type: 'data'; chunks: Uint8Array[] } | { type: 'updateend' } | { type: 'end' };

export type FeederAction = { type: 'append'; bytes: Uint8Array } | { type: 'end_of_stream' } | null;

export function createFeeder(): FeederState {
  return { open: false, updating: false, pending: [], endRequested: false, ended: false, appendedBytes: 0 };
}

export function feed(state: FeederState, event: FeederEvent): { state: FeederState; action: FeederAction } {
  if (state.ended) return { state, action: null };
  let next: FeederState;
  switch (event.type) {
    case 'open':
      next = { ...state, open: true };
      break;
    case 'data':
      next = event.chunks.length ? { ...state, pending: [...state.pending, ...event.chunks] } : state;
      break;
    case 'updateend':
      next = { ...state, updating: false };
      break;
    case 'end':
      next = { ...state, endRequested: true };
      break;
  }
  if (!next.open || next.updating) return { state: next, action: null };
  if (next.pending.length) {
    const bytes = concatBytes(next.pending);
    return { state: { ...next, pending: [], updating: true, appendedBytes: next.appendedBytes + bytes.byteLength }, action: { type: 'append', bytes } };
  }
  if (next.endRequested) return { state: { ...next, ended: true }, action: { type: 'end_of_stream' } };
  return { state: next, action: null };
}

export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * Socket.IO delivers binary as ArrayBuffer in browsers (Uint8Array/Buffer in
 * Node), and a JSON transport would give a number array: accept them all.
 */
export function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data) && data.every((n) => Number.isInteger(n) && n >= 0 && n < 256)) return Uint8Array.from(data as number[]);
  if (typeof data === 'object' && data !== null && (data as { type?: unknown }).type === 'Buffer' && Array.isArray((data as { data?: unknown }).data)) {
    return toBytes((data as { data: unknown }).data);
  }
  return new Uint8Array(0);
}
