import { useCallback, useEffect, useId, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { Api } from '../lib/api.client';
import type { ConnState } from '../lib/connection.logic';
import type { Connection } from '../lib/socket.client';
import { usePushToTalk } from '../voice/push-to-talk.hook';
import { CostNoticeView, voicePriceLabel } from '../credits/cost-notice.view';
import type { Prices } from '../lib/api.client';
import { AnswerView } from './answer.view';
import { useChat } from './chat.hook';
import { ConversationsView } from './conversations.view';
import { loadVoiceNotice, saveVoiceNotice } from './chat-storage';
import { isInProgress, voiceNoticeAnswerId } from './stream.logic';

const VOICE_KEY = 'zmarty.voice';
const MAX_MESSAGE = 4000;
const STARTERS = ['What is the outlook for BTC today?', 'Explain the latest ETH/USDT signal', 'Where are the big liquidation clusters on SOL?'];

export function ChatView({
  connection,
  connState,
  userId,
  api,
  balance = null,
  prices = null,
  voiceAllowed = true,
}: {
  connection: Connection;
  connState: ConnState;
  userId: string;
  api: Api;
  /** For the low-balance notice and the Voice price (see credits/cost-notice.view.tsx). */
  balance?: number | null;
  prices?: Prices | null;
  /** The user's tier includes spoken answers (the server refuses `voice` otherwise). */
  voiceAllowed?: boolean;
}) {
  const audioRef = useRef<HTMLAudioElement>(null);
  const [audioBlocked, setAudioBlocked] = useState(false);
  // The player appears once there is something to play: an empty one (no voice provider, no answer yet) is noise.
  const [hasAudio, setHasAudio] = useState(false);
  const onAudioBlocked = useCallback(() => setAudioBlocked(true), []);
  const chat = useChat({ connection, userId, api, audioRef, onAudioBlocked });
  const [draft, setDraft] = useState('');
  const [voiceNoticeFor, setVoiceNoticeFor] = useState(() => loadVoiceNotice(userId));
  const voiceNoticeOn = voiceNoticeAnswerId(chat.answers, voiceNoticeFor);
  useEffect(() => {
    if (!voiceNoticeOn || voiceNoticeOn === voiceNoticeFor) return;
    setVoiceNoticeFor(voiceNoticeOn);
    saveVoiceNotice(userId, voiceNoticeOn);
  }, [voiceNoticeOn, voiceNoticeFor, userId]);
  const [voiceChosen, setVoice] = useState(() => localStorage.getItem(VOICE_KEY) === 'on');
  const voice = voiceChosen && voiceAllowed;
  const log = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const pinned = useRef(true);
  const ids = { input: useId(), hint: useId(), voicePrice: useId() };
  const voicePrice = voicePriceLabel(prices);
  const ptt = usePushToTalk((text) => {
    setDraft((d) => (d.trim() ? `${d.trim()} ${text}` : text));
    input.current?.focus();
  });

  const connected = connState.status === 'connected';
  const current = [...chat.answers].reverse().find(isInProgress);
  const canSend = connected && !current && draft.trim().length > 0 && draft.length <= MAX_MESSAGE;

  useEffect(() => localStorage.setItem(VOICE_KEY, voiceChosen ? 'on' : 'off'), [voiceChosen]);
  useEffect(() => {
    const socket = connection.socket;
    const onAudio = (e: { data?: unknown }) => e.data && setHasAudio(true);
    socket.on('chat:audio', onAudio);
    return () => void socket.off('chat:audio', onAudio);
  }, [connection]);

  // Follow the stream while the reader is at the bottom; leave them be once they scroll up.
  useLayoutEffect(() => {
    const el = log.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [chat.answers]);

  function send(text = draft) {
    const message = text.trim();
    if (!message || !connected || current || message.length > MAX_MESSAGE) return;
    setAudioBlocked(false);
    void chat.send(message, voice);
    setDraft('');
    pinned.current = true;
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  }

  return (
    <section className="panel chat" aria-labelledby="chat-title">
      <div className="chat-head">
        <h2 id="chat-title" className="panel-title">
          Ask Zmarty
        </h2>
        <div className="chat-tools">
          <button
            type="button"
            role="switch"
            aria-checked={voice}
            className={`switch ${voice ? 'on' : ''}`}
            data-testid="voice-toggle"
            aria-describedby={voicePrice ? ids.voicePrice : undefined}
            disabled={!voiceAllowed}
            title={voiceAllowed ? undefined : 'Spoken answers are not included in your tier'}
            onClick={() => setVoice((v) => !v)}
          >
            <span className="switch-track" aria-hidden="true">
              <span className="switch-thumb" />
            </span>
            Voice
          </button>
          {voicePrice && (
            <span id={ids.voicePrice} className="voice-price muted" data-testid="voice-price">
              {voicePrice}
            </span>
          )}
        </div>
      </div>

      <ConversationsView
        conversations={chat.conversations}
        currentId={chat.conversationId}
        busy={Boolean(current)}
        onNew={() => {
          chat.startNew();
          input.current?.focus();
        }}
        onOpen={(id) => void chat.open(id)}
        onRename={chat.rename}
        onDelete={chat.remove}
      />
      {chat.historyError && (
        <p className="chat-error" role="alert">
          {chat.historyError}
        </p>
      )}

      {!connected && (
        <p className={`conn-note ${connState.status === 'auth_failed' ? 'error' : ''}`} role="status">
          {connState.status === 'auth_failed'
            ? 'Your session has expired. Sign out and sign in again.'
            : connState.everConnected
              ? 'Connection lost — reconnecting. Answers in progress resume automatically.'
              : 'Connecting…'}
        </p>
      )}

      <div
        className="chat-log"
        ref={log}
        role="log"
        aria-live="polite"
        aria-label="Conversation"
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
      >
        {chat.answers.length === 0 ? (
          <div className="chat-empty">
            <p>Ask about a pair, a signal or the market. Answers stream live; turn on Voice to hear them.</p>
            <div className="starters">
              {STARTERS.map((s) => (
                <button key={s} type="button" className="chip" onClick={() => send(s)} disabled={!connected}>
                  {s}
                </button>
              ))}
            </div>
          </div>
        ) : (
          chat.answers.map((a) => <AnswerView key={a.id} answer={a} voiceNotice={a.id === voiceNoticeOn} />)
        )}
      </div>

      <div className={`voice-bar ${voice && (hasAudio || audioBlocked) ? '' : 'hidden'}`}>
        <audio data-testid="voice-audio" ref={audioRef} controls preload="auto" aria-label="Spoken answer" />
        {audioBlocked && (
          <button
            type="button"
            className="btn btn-small"
            onClick={() => {
              void audioRef.current?.play();
              setAudioBlocked(false);
            }}
          >
            Play answer
          </button>
        )}
      </div>

      <CostNoticeView balance={balance} prices={prices} voice={voice} />

      <form
        className="composer"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        <label htmlFor={ids.input} className="visually-hidden">
          Message Zmarty
        </label>
        <textarea
          id={ids.input}
          ref={input}
          data-testid="chat-input"
          rows={2}
          placeholder={connected ? 'Message Zmarty…' : 'Waiting for the connection…'}
          value={draft}
          maxLength={MAX_MESSAGE}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={onKeyDown}
          aria-describedby={ids.hint}
        />
        <div className="composer-actions">
          {ptt.supported && (
            <button
              type="button"
              className={`btn btn-icon ${ptt.listening ? 'listening' : ''}`}
              aria-pressed={ptt.listening}
              aria-label="Hold to talk"
              title="Hold to talk"
              onPointerDown={(e) => {
                e.preventDefault();
                ptt.start();
              }}
              onPointerUp={ptt.stop}
              onPointerLeave={() => ptt.listening && ptt.stop()}
              onKeyDown={(e) => {
                if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) {
                  e.preventDefault();
                  ptt.start();
                }
              }}
              onKeyUp={(e) => {
                if (e.key === ' ' || e.key === 'Enter') ptt.stop();
              }}
            >
              <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" aria-hidden="true">
                <rect x="9" y="3" width="6" height="11" rx="3" />
                <path d="M5 11a7 7 0 0 0 14 0M12 18v3" />
              </svg>
            </button>
          )}
          {current ? (
            <button type="button" className="btn btn-danger" data-testid="stop" onClick={() => chat.stop(current.id)} disabled={current.stopRequested}>
              {current.stopRequested ? 'Stopping…' : 'Stop'}
            </button>
          ) : (
            <button type="submit" className="btn btn-primary" data-testid="send" disabled={!canSend}>
              Send
            </button>
          )}
        </div>
        <p id={ids.hint} className="hint composer-hint">
          {ptt.error ?? (ptt.listening ? 'Listening… release to finish.' : 'Enter to send · Shift+Enter for a new line')}
        </p>
      </form>
    </section>
  );
}
