import { describe, expect, it } from 'vitest';
import { concatBytes, createChunkOrder, createFeeder, feed, pushChunk, toBytes, type AudioChunk, type FeederAction, type FeederEvent } from './audio-queue.logic';

const bytes = (...values: number[]) => Uint8Array.from(values);

function order(chunks: AudioChunk[]) {
  let state = createChunkOrder();
  const out: number[] = [];
  let endedAt = -1;
  chunks.forEach((chunk, i) => {
    const result = pushChunk(state, chunk);
    state = result.order;
    for (const r of result.ready) out.push(...r);
    if (result.ended) endedAt = i;
  });
  return { out, endedAt, state };
}

describe('pushChunk', () => {
  // seq 3 is the empty final marker; endedAt is the index of the push that completes the stream.
  it.each([
    { name: 'in order', seqs: [0, 1, 2, 3], out: [0, 1, 2], endedAt: 3 },
    { name: 'reordered', seqs: [2, 0, 3, 1], out: [0, 1, 2], endedAt: 3 },
    { name: 'final before the rest', seqs: [3, 1, 0, 2], out: [0, 1, 2], endedAt: 3 },
    { name: 'replayed after resume', seqs: [0, 1, 0, 1, 2, 3], out: [0, 1, 2], endedAt: 5 },
    { name: 'missing chunk never ends', seqs: [0, 2, 3], out: [0], endedAt: -1 },
  ])('$name', ({ seqs, out, endedAt }) => {
    const chunks = seqs.map((seq) => (seq === 3 ? { seq, data: bytes(), final: true } : { seq, data: bytes(seq) }));
    const result = order(chunks);
    expect(result.out).toEqual(out);
    expect(result.endedAt).toBe(endedAt);
  });

  it('a final chunk may carry data; chunks after the end are ignored', () => {
    const result = order([{ seq: 0, data: bytes(7) }, { seq: 1, data: bytes(8), final: true }, { seq: 2, data: bytes(9) }]);
    expect(result.out).toEqual([7, 8]);
    expect(result.endedAt).toBe(1);
    expect(result.state.ended).toBe(true);
  });

  it('drops chunks held beyond the final marker', () => {
    const result = order([{ seq: 5, data: bytes(5) }, { seq: 1, data: bytes(), final: true }, { seq: 0, data: bytes(0) }]);
    expect(result.out).toEqual([0]);
    expect(result.state.held.size).toBe(0);
  });
});

function drive(events: FeederEvent[]) {
  let state = createFeeder();
  const actions: FeederAction[] = [];
  for (const event of events) {
    const result = feed(state, event);
    state = result.state;
    actions.push(result.action);
  }
  return { state, actions };
}

describe('feed (SourceBuffer scheduling)', () => {
  it('waits for sourceopen, then appends what queued meanwhile in one call', () => {
    const { actions } = drive([{ type: 'data', chunks: [bytes(1)] }, { type: 'data', chunks: [bytes(2, 3)] }, { type: 'open' }]);
    expect(actions.slice(0, 2)).toEqual([null, null]);
    expect(actions[2]).toEqual({ type: 'append', bytes: bytes(1, 2, 3) });
  });

  it('never appends while updating; coalesces until updateend', () => {
    const { actions, state } = drive([
      { type: 'open' },
      { type: 'data', chunks: [bytes(1)] },
      { type: 'data', chunks: [bytes(2)] },
      { type: 'data', chunks: [bytes(3)] },
      { type: 'updateend' },
      { type: 'updateend' },
    ]);
    expect(actions).toEqual([null, { type: 'append', bytes: bytes(1) }, null, null, { type: 'append', bytes: bytes(2, 3) }, null]);
    expect(state.appendedBytes).toBe(3);
  });

  it('ends the stream only after the last append finished', () => {
    const { actions, state } = drive([{ type: 'open' }, { type: 'data', chunks: [bytes(1)] }, { type: 'end' }, { type: 'updateend' }, { type: 'data', chunks: [bytes(9)] }]);
    expect(actions).toEqual([null, { type: 'append', bytes: bytes(1) }, null, { type: 'end_of_stream' }, null]);
    expect(state.ended).toBe(true);
  });

  it('ends immediately when nothing is pending', () => {
    const { actions } = drive([{ type: 'end' }, { type: 'open' }]);
    expect(actions).toEqual([null, { type: 'end_of_stream' }]);
  });
});

describe('byte helpers', () => {
  it('concatenates', () => {
    expect(concatBytes([bytes(1), bytes(), bytes(2, 3)])).toEqual(bytes(1, 2, 3));
  });

  it.each([
    ['Uint8Array', bytes(1, 2), [1, 2]],
    ['ArrayBuffer', bytes(3, 4).buffer, [3, 4]],
    ['DataView slice', new DataView(bytes(0, 5, 6, 0).buffer, 1, 2), [5, 6]],
    ['number array', [7, 8], [7, 8]],
    ['serialized Buffer', { type: 'Buffer', data: [9] }, [9]],
    ['garbage', 'hello', []],
    ['out-of-range numbers', [1, 300], []],
  ])('toBytes(%s)', (_name, input, expected) => {
    expect([...toBytes(input)]).toEqual(expected);
  });
});
