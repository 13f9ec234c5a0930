import type { ChatAudioEvent, ChatDoneEvent, ChatErrorEvent, ChatTokenEvent } from '../../../common/events';
import { useCallback, useEffect, useReducer, useRef, useState, type RefObject } from 'react';
import { ApiError, type Api, type ConversationSummary } from '../lib/api.client';
import { newId } from '../lib/ids';
import type { Connection } from '../lib/socket.client';
import { createAudioPlayer, type AudioPlayer } from '../voice/audio-player';
import { createSpeaker } from '../voice/speech';
import { takeSentences } from '../voice/speech.logic';
import { loadCurrentConversation, loadInFlight, saveCurrentConversation, saveInFlight } from './chat-storage';
import { answerFromInFlight, answersFromMessages, inFlightOf } from './history.logic';
import { chatReducer, emptyChat, isInProgress, reconnectActions, resumeFromSeq, type Answer } from './stream.logic';

const SEND_TIMEOUT_MS = 15_000;
const RESUME_TIMEOUT_MS = 10_000;

interface SendRequest {
  message: string;
  voice: boolean;
  conversationId: string | undefined;
}

export interface ChatOptions {
  connection: Connection;
  userId: string;
  api: Api;
  audioRef: RefObject<HTMLAudioElement | null>;
  onAudioBlocked?: () => void;
}

/**
 * The chat of one signed-in tab. History lives on the server (conversations,
 * read over REST, the same in every tab and device); the browser keeps only
 * the answer it is streaming and the conversation it shows (sessionStorage,
 * cleared at sign-out), so a reload resumes the stream where it was.
 */
export function useChat({ connection, userId, api, audioRef, onAudioBlocked }: ChatOptions) {
  const [state, dispatch] = useReducer(chatReducer, emptyChat);
  const stateRef = useRef(state);
  stateRef.current = state;
  const [conversationId, setConversationId] = useState<string | undefined>(undefined);
  const conversationRef = useRef(conversationId);
  conversationRef.current = conversationId;
  const [conversations, setConversations] = useState<ConversationSummary[] | null>(null);
  const [historyError, setHistoryError] = useState<string | null>(null);
  // Until the tab's saved state is restored, nothing may overwrite it.
  const [restored, setRestored] = useState(false);
  const player = useRef<AudioPlayer | null>(null);
  const speaker = useRef(createSpeaker());
  const spoken = useRef(new Map<string, number>());
  const socket = connection.socket;

  const refreshList = useCallback(async () => {
    try {
      setConversations(await api.conversations());
    } catch {
      /* the list stays as it was; the next answer or focus refreshes it */
    }
  }, [api]);

  /** Shows a conversation as the server has it. */
  const show = useCallback(
    async (id: string) => {
      const { messages } = await api.conversation(id);
      dispatch({ type: 'load', answers: answersFromMessages(messages) });
      setConversationId(id);
      setHistoryError(null);
      return messages;
    },
    [api],
  );

  const resume = useCallback(
    (answer: Answer) => {
      socket
        .timeout(RESUME_TIMEOUT_MS)
        .emitWithAck('chat:resume', { id: answer.id, fromSeq: resumeFromSeq(answer) })
        .then(async (ack) => {
          if (ack.ok) return dispatch({ type: 'resumed', id: answer.id });
          // Finished too long ago for the server to replay it: it was stored in the conversation when it ended.
          const stored = ack.error.code === 'not_found' ? conversationRef.current : undefined;
          if (stored && (await show(stored).catch(() => null))) return;
          // answer_lost: the instance answering it died; the conversation shows why, in words of its own.
          dispatch({ type: 'resume_failed', id: answer.id, message: ack.error.message, code: ack.error.code === 'answer_lost' ? 'answer_lost' : undefined });
        })
        .catch(() => {
          // Cut off again before the ack (the token expired once more, say): the next connect resumes it again.
          if (!socket.connected) return;
          dispatch({ type: 'resume_failed', id: answer.id, message: 'The server did not answer the resume request' });
        });
    },
    [socket, show],
  );

  /**
   * chat:send for an answer on screen. A send whose ack was lost with the
   * connection (socket.io drops the acks of packets already sent) may or may
   * not have reached the server: it went out on a socket the server may have
   * been closing. So it is kept in `lostSends` and the next connect sends it
   * again, with the same id, which the server answers at most once: a question
   * it did get comes back as a conflict, and is resumed. A send made while
   * offline waits in socket.io's buffer instead (`awaitingAck`): it goes out
   * on the next connection, and its ack still comes.
   */
  const awaitingAck = useRef(new Set<string>());
  const lostSends = useRef(new Map<string, SendRequest>());
  const submit = useCallback(
    async (id: string, request: SendRequest) => {
      awaitingAck.current.add(id);
      try {
        const ack = await socket.timeout(SEND_TIMEOUT_MS).emitWithAck('chat:send', { id, ...request });
        awaitingAck.current.delete(id);
        if (ack.ok) {
          setConversationId(ack.data.conversationId);
          void refreshList();
          return;
        }
        const answer = stateRef.current.answers.find((a) => a.id === id);
        if (ack.error.code === 'conflict' && answer) return resume(answer);
        dispatch({ type: 'error', event: { id, code: ack.error.code, message: ack.error.message } });
      } catch {
        awaitingAck.current.delete(id);
        if (!socket.connected) {
          lostSends.current.set(id, request);
          return;
        }
        const answer = stateRef.current.answers.find((a) => a.id === id);
        if (answer?.status === 'pending') dispatch({ type: 'error', event: { id, code: 'timeout', message: 'No reply from the server' } });
      }
    },
    [socket, refreshList, resume],
  );

  // First render: the answer this tab was streaming before a reload (resumed), else the conversation it showed, else the latest.
  useEffect(() => {
    let live = true;
    const saved = loadInFlight(userId);
    void (async () => {
      const list = await api.conversations().catch(() => null);
      if (!live) return;
      setConversations(list);
      const id = saved?.conversationId ?? loadCurrentConversation(userId) ?? list?.[0]?.id;
      let answers: Answer[] = [];
      let answered = false;
      if (id) {
        try {
          const { messages } = await api.conversation(id);
          answers = answersFromMessages(messages);
          answered = saved !== null && messages.some((m) => m.requestId === saved.id && m.role === 'assistant');
          setConversationId(id);
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 404)) setHistoryError('Could not load this conversation.');
        }
      }
      if (!live) return;
      const pending = saved && !answered ? answerFromInFlight(saved) : undefined;
      dispatch({ type: 'load', answers: pending ? [...answers.filter((a) => a.id !== pending.id), pending] : answers });
      setRestored(true);
      // Connected already: onConnected has run and will not run again for it.
      if (pending && socket.connected) resume(pending);
    })();
    return () => {
      live = false;
    };
    // Once per tab and user: later changes come from the user's own actions.
  }, []);

  // Another tab or device may have added or renamed conversations.
  useEffect(() => {
    const onFocus = () => void refreshList();
    window.addEventListener('focus', onFocus);
    return () => window.removeEventListener('focus', onFocus);
  }, [refreshList]);

  // What a reload needs: the answer in flight (with its text and last seq) and the conversation on screen.
  useEffect(() => {
    if (!restored) return;
    const current = state.answers.find(isInProgress);
    saveInFlight(userId, current ? inFlightOf(current, conversationId) : null);
    saveCurrentConversation(userId, conversationId);
  }, [restored, state, conversationId, userId]);

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
    const onDone = (event: ChatDoneEvent) => {
      dispatch({ type: 'done', event });
      if (!stateRef.current.answers.some((a) => a.id === event.id)) return;
      // A resumed answer whose ack was lost still tells which conversation it belongs to.
      if (conversationRef.current === undefined) setConversationId(event.conversationId);
      void refreshList();
    };
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
  }, [socket, refreshList]);

  // After a reconnect, ask for what we missed of each answer still in progress.
  useEffect(() => {
    const offConnected = connection.onConnected(() => {
      const sends = { lost: lostSends.current, buffered: awaitingAck.current };
      for (const { answer, action } of reconnectActions(stateRef.current.answers, sends)) {
        const lost = lostSends.current.get(answer.id);
        lostSends.current.delete(answer.id);
        if (action === 'send' && lost) void submit(answer.id, lost);
        else resume(answer);
      }
    });
    const offLost = connection.onLost(() => dispatch({ type: 'connection_lost' }));
    return () => {
      offConnected();
      offLost();
    };
  }, [connection, resume, submit]);

  const busy = state.answers.some(isInProgress);
  useEffect(() => connection.setBusy(busy), [connection, busy]);

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
      await submit(id, { message, voice, conversationId: conversationRef.current });
      return id;
    },
    [submit],
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

  const startNew = useCallback(() => {
    if (stateRef.current.answers.some(isInProgress)) return;
    dispatch({ type: 'load', answers: [] });
    setConversationId(undefined);
    setHistoryError(null);
  }, []);

  const open = useCallback(
    async (id: string) => {
      if (stateRef.current.answers.some(isInProgress) || id === conversationRef.current) return;
      try {
        await show(id);
      } catch {
        setHistoryError('Could not load this conversation.');
        void refreshList();
      }
    },
    [show, refreshList],
  );

  const rename = useCallback(
    async (id: string, title: string) => {
      await api.renameConversation(id, title);
      await refreshList();
    },
    [api, refreshList],
  );

  const remove = useCallback(
    async (id: string) => {
      await api.deleteConversation(id);
      if (id === conversationRef.current) startNew();
      await refreshList();
    },
    [api, refreshList, startNew],
  );

  return {
    answers: state.answers,
    busy,
    send,
    stop,
    conversations,
    conversationId,
    historyError,
    startNew,
    open,
    rename,
    remove,
    speechSupported: speaker.current.supported,
  };
}
