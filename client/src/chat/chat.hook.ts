import type { ChatAudioEvent, ChatDoneEvent, ChatErrorEvent, ChatTokenEvent } from '../../../common/events';
import { useCallback, useEffect, useReducer, useRef, type RefObject } from 'react';
import { newId } from '../lib/ids';
import type { Connection } from '../lib/socket.client';
import { createAudioPlayer, type AudioPlayer } from '../voice/audio-player';
import { createSpeaker } from '../voice/speech';
import { takeSentences } from '../voice/speech.logic';
import { chatReducer, emptyChat, isInProgress, resumeFromSeq, type Answer, type ChatState } from './stream.logic';

const SEND_TIMEOUT_MS = 15_000;
const RESUME_TIMEOUT_MS = 10_000;
const HISTORY_LIMIT = 50;

/** The session's conversation survives a reload of the tab (sessionStorage), not a new tab. */
function loadHistory(key: string): ChatState {
  try {
    const raw = sessionStorage.getItem(key);
    const answers = raw ? (JSON.parse(raw) as Answer[]) : [];
    return Array.isArray(answers) ? { answers: answers.filter((a) => !isInProgress(a)) } : emptyChat;
  } catch {
    return emptyChat;
  }
}

function saveHistory(key: string, state: ChatState) {
  try {
    const finished = state.answers.filter((a) => !isInProgress(a)).slice(-HISTORY_LIMIT);
    sessionStorage.setItem(key, JSON.stringify(finished));
  } catch {
    /* storage full or disabled: history is a convenience */
  }
}

export interface ChatOptions {
  connection: Connection;
  userId: string;
  audioRef: RefObject<HTMLAudioElement | null>;
  onAudioBlocked?: () => void;
}

export function useChat({ connection, userId, audioRef, onAudioBlocked }: ChatOptions) {
  const historyKey = `zmarty.chat.${userId}`;
  const [state, dispatch] = useReducer(chatReducer, historyKey, loadHistory);
  const stateRef = useRef(state);
  stateRef.current = state;
  const player = useRef<AudioPlayer | null>(null);
  const speaker = useRef(createSpeaker());
  const spoken = useRef(new Map<string, number>());
  const socket = connection.socket;

  useEffect(() => {
    if (!audioRef.current) return;
    const p = createAudioPlayer(audioRef.current, { onBlocked: onAudioBlocked });
    player.current = p;
    return () => {
      p.dispose();
      player.current = null;
    };
  }, [audioRef, onAudioBlocked]);

  useEffect(() => {
    const onToken = (e: ChatTokenEvent) => dispatch({ type: 'token', id: e.id, seq: e.seq, delta: e.delta });
    const onDone = (event: ChatDoneEvent) => dispatch({ type: 'done', event });
    const onError = (event: ChatErrorEvent) => dispatch({ type: 'error', event });
    const onAudio = (event: ChatAudioEvent) => {
      const answer = stateRef.current.answers.find((a) => a.id === event.id);
      if (answer?.voice && !answer.stopRequested) player.current?.push(event);
    };
    socket.on('chat:token', onToken);
    socket.on('chat:done', onDone);
    socket.on('chat:error', onError);
    socket.on('chat:audio', onAudio);
    return () => {
      socket.off('chat:token', onToken);
      socket.off('chat:done', onDone);
      socket.off('chat:error', onError);
      socket.off('chat:audio', onAudio);
    };
  }, [socket]);

  // After a reconnect, ask for what we missed of each answer still in progress.
  useEffect(() => {
    const offConnected = connection.onConnected(() => {
      for (const answer of stateRef.current.answers.filter(isInProgress)) {
        socket
          .timeout(RESUME_TIMEOUT_MS)
          .emitWithAck('chat:resume', { id: answer.id, fromSeq: resumeFromSeq(answer) })
          .then((ack) => {
            if (ack.ok) dispatch({ type: 'resumed', id: answer.id });
            else dispatch({ type: 'resume_failed', id: answer.id, message: ack.error.message });
          })
          .catch(() => dispatch({ type: 'resume_failed', id: answer.id, message: 'The server did not answer the resume request' }));
      }
    });
    const offLost = connection.onLost(() => dispatch({ type: 'connection_lost' }));
    return () => {
      offConnected();
      offLost();
    };
  }, [connection, socket]);

  const busy = state.answers.some(isInProgress);
  useEffect(() => connection.setBusy(busy), [connection, busy]);

  useEffect(() => saveHistory(historyKey, state), [historyKey, state]);

  // voice_unavailable: the browser speaks the text, sentence by sentence as it completes.
  useEffect(() => {
    for (const answer of state.answers) {
      if (!answer.voice || !answer.voiceUnavailable || answer.stopRequested || answer.status === 'aborted') continue;
      const from = spoken.current.get(answer.id) ?? 0;
      if (from >= answer.text.length && isInProgress(answer)) continue;
      const { sentences, spokenUpTo } = takeSentences(answer.text, from, !isInProgress(answer));
      spoken.current.set(answer.id, spokenUpTo);
      speaker.current.speak(sentences);
    }
  }, [state]);

  const send = useCallback(
    async (message: string, voice: boolean) => {
      const id = newId();
      dispatch({ type: 'send', id, question: message, voice });
      try {
        const ack = await socket.timeout(SEND_TIMEOUT_MS).emitWithAck('chat:send', { id, message, voice });
        if (!ack.ok) dispatch({ type: 'error', event: { id, code: ack.error.code, message: ack.error.message } });
      } catch {
        // The ack was lost with the connection: the reconnect's chat:resume settles this answer.
        if (!socket.connected) return id;
        const answer = stateRef.current.answers.find((a) => a.id === id);
        if (answer?.status === 'pending') dispatch({ type: 'error', event: { id, code: 'timeout', message: 'No reply from the server' } });
      }
      return id;
    },
    [socket],
  );

  const stop = useCallback(
    (id: string) => {
      dispatch({ type: 'stop_requested', id });
      // Emitted while offline it is buffered and sent first thing after the reconnect.
      socket.emit('chat:abort', { id });
      player.current?.stop();
      speaker.current.cancel();
    },
    [socket],
  );

  const clear = useCallback(() => dispatch({ type: 'clear' }), []);

  return { answers: state.answers, busy, send, stop, clear, speechSupported: speaker.current.supported };
}
