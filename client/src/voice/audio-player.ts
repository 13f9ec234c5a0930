import type { ChatAudioEvent } from '../../../common/events';
import { createChunkOrder, createFeeder, feed, pushChunk, toBytes, type ChunkOrder, type FeederEvent, type FeederState } from './audio-queue.logic';

export interface AudioPlayer {
  push(event: ChatAudioEvent): void;
  /** Stops playback of the current answer and ignores its late chunks. */
  stop(): void;
  /** Which path plays `mime` here: MediaSource streaming or a Blob once the audio is complete. */
  mode(mime: string): 'stream' | 'blob';
  dispose(): void;
}

interface Track {
  id: string;
  mime: string;
  order: ChunkOrder;
  url: string | null;
  // stream mode
  source?: MediaSource;
  buffer?: SourceBuffer;
  feeder?: FeederState;
  // blob mode
  parts?: Uint8Array[];
  started: boolean;
}

function mediaSourceSupports(mime: string): boolean {
  return typeof MediaSource !== 'undefined' && typeof MediaSource.isTypeSupported === 'function' && MediaSource.isTypeSupported(mime);
}

/**
 * Plays `chat:audio` chunks on one <audio> element, in seq order. Where
 * MediaSource takes the type (Chromium: audio/mpeg) bytes are appended to one
 * SourceBuffer as they arrive, so playback starts on the first chunk and runs
 * without gaps; elsewhere (Firefox, iOS) the answer's audio is collected and
 * played as one Blob when its final chunk arrives — later, but gap-free.
 */
export function createAudioPlayer(audio: HTMLAudioElement, options: { onBlocked?: () => void } = {}): AudioPlayer {
  let track: Track | null = null;
  const finished = new Set<string>();

  function play() {
    audio.play().catch((err: unknown) => {
      // Autoplay without a user gesture is refused; the page offers a play button then.
      if (err instanceof DOMException && err.name === 'NotAllowedError') options.onBlocked?.();
    });
  }

  function release(t: Track) {
    if (t.url) URL.revokeObjectURL(t.url);
    t.url = null;
  }

  function step(t: Track, event: FeederEvent) {
    if (track !== t || !t.feeder) return;
    const result = feed(t.feeder, event);
    t.feeder = result.state;
    const action = result.action;
    if (!action) return;
    try {
      if (action.type === 'append') {
        t.buffer!.appendBuffer(action.bytes as Uint8Array<ArrayBuffer>);
        if (!t.started) {
          t.started = true;
          play();
        }
      } else if (t.source!.readyState === 'open') {
        t.source!.endOfStream();
      }
    } catch {
      // A decode error or a full buffer: give up on this answer's audio rather than stall the page.
      finished.add(t.id);
    }
  }

  function begin(id: string, mime: string): Track {
    if (track) stopTrack(track);
    const t: Track = { id, mime, order: createChunkOrder(), url: null, started: false };
    track = t;
    if (mediaSourceSupports(mime)) {
      const source = new MediaSource();
      t.source = source;
      t.feeder = createFeeder();
      source.addEventListener(
        'sourceopen',
        () => {
          if (track !== t) return;
          const buffer = source.addSourceBuffer(mime);
          // 'sequence': each append follows the previous one in time, whatever timestamps the MP3 frames carry.
          buffer.mode = 'sequence';
          t.buffer = buffer;
          buffer.addEventListener('updateend', () => step(t, { type: 'updateend' }));
          step(t, { type: 'open' });
        },
        { once: true },
      );
      t.url = URL.createObjectURL(source);
      audio.src = t.url;
    } else {
      t.parts = [];
    }
    return t;
  }

  function stopTrack(t: Track) {
    finished.add(t.id);
    audio.pause();
    try {
      if (t.source?.readyState === 'open' && !t.buffer?.updating) t.source.endOfStream();
    } catch {
      /* already ended */
    }
    release(t);
    if (track === t) track = null;
  }

  return {
    push(event) {
      if (finished.has(event.id)) return;
      const mime = event.mime || 'audio/mpeg';
      const t = track?.id === event.id ? track : begin(event.id, mime);
      const result = pushChunk(t.order, { seq: event.seq, data: toBytes(event.data), final: event.final });
      t.order = result.order;
      if (t.feeder) {
        if (result.ready.length) step(t, { type: 'data', chunks: result.ready });
        if (result.ended) step(t, { type: 'end' });
      } else if (t.parts) {
        t.parts.push(...result.ready);
        if (result.ended && t.parts.length) {
          t.url = URL.createObjectURL(new Blob(t.parts as Uint8Array<ArrayBuffer>[], { type: mime }));
          audio.src = t.url;
          t.started = true;
          play();
        }
      }
      if (result.ended) finished.add(t.id);
    },
    stop() {
      if (track) stopTrack(track);
    },
    mode: (mime) => (mediaSourceSupports(mime) ? 'stream' : 'blob'),
    dispose() {
      if (track) stopTrack(track);
      audio.removeAttribute('src');
    },
  };
}
