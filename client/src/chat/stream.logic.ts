import type { ChatDoneEvent, ChatErrorEvent, ChatStatus } from '../../../common/events';

/**
 * Assembly of streamed answers. Pure: the chat hook feeds socket events in and
 * renders what comes out. Deltas are placed by `seq`, so a replay after a
 * reconnect (`chat:resume`) can repeat what we already have without doubling
 * text, and a gap holds later deltas back until it is filled.
 */

export type AnswerStatus = 'pending' | 'streaming' | ChatStatus | 'error';

export interface AnswerError {
  code: string;
  message: string;
}

export interface Answer {
  id: string;
  question: string;
  voice: boolean;
  /** Contiguous text: deltas 0..nextSeq-1. */
  text: string;
  nextSeq: number;
  /** Deltas that arrived ahead of a gap, by seq. */
  ahead: Record<number, string>;
  status: AnswerStatus;
  stopRequested: boolean;
  /** The server could not speak this answer: the browser speaks it instead. */
  voiceUnavailable: boolean;
  provider?: string;
  model?: string;
  charged?: number;
  estimated?: boolean;
  error?: AnswerError;
  /** The connection dropped while this answer was in progress; cleared when it resumes. */
  interrupted: boolean;
}

export interface ChatState {
  answers: Answer[];
}

export type ChatAction =
  | { type: 'send'; id: string; question: string; voice: boolean }
  | { type: 'token'; id: string; seq: number; delta: string }
  | { type: 'done'; event: ChatDoneEvent }
  /** A `chat:error`, or a failure seen by the client itself (ack error, timeout). */
  | { type: 'error'; event: { id: string; code: ChatErrorEvent['code'] | (string & {}); message: string } }
  | { type: 'stop_requested'; id: string }
  | { type: 'connection_lost' }
  | { type: 'resumed'; id: string }
  /** `code`: why (answer_lost: the server answering it died); connection_lost when absent. */
  | { type: 'resume_failed'; id: string; message: string; code?: string }
  | { type: 'clear' }
  /** A conversation read from the server (switching, or after a resume the server no longer knew). */
  | { type: 'load'; answers: Answer[] };

export const emptyChat: ChatState = { answers: [] };

const TERMINAL: ReadonlySet<AnswerStatus> = new Set(['complete', 'aborted', 'incomplete', 'error']);

export function isInProgress(answer: Answer): boolean {
  return !TERMINAL.has(answer.status);
}

export function newAnswer(id: string, question: string, voice: boolean): Answer {
  return { id, question, voice, text: '', nextSeq: 0, ahead: {}, status: 'pending', stopRequested: false, voiceUnavailable: false, interrupted: false };
}

/** Places one delta; duplicates (seq already assembled or already held) are dropped. */
export function applyToken(answer: Answer, seq: number, delta: string): Answer {
  if (!Number.isInteger(seq) || seq < answer.nextSeq || seq in answer.ahead) return answer;
  if (TERMINAL.has(answer.status)) return answer;
  let text = answer.text;
  let nextSeq = answer.nextSeq;
  const ahead = { ...answer.ahead, [seq]: delta };
  while (nextSeq in ahead) {
    text += ahead[nextSeq];
    delete ahead[nextSeq];
    nextSeq += 1;
  }
  return { ...answer, text, nextSeq, ahead, status: 'streaming' };
}

/** The answer is over: whatever is held beyond a gap is appended in order (best effort; nothing more will come). */
export function applyDone(answer: Answer, done: ChatDoneEvent): Answer {
  if (TERMINAL.has(answer.status) && answer.status !== 'error') return answer;
  const held = Object.keys(answer.ahead)
    .map(Number)
    .sort((a, b) => a - b);
  const text = answer.text + held.map((seq) => answer.ahead[seq]).join('');
  return {
    ...answer,
    text,
    nextSeq: held.length ? held[held.length - 1]! + 1 : answer.nextSeq,
    ahead: {},
    status: done.status,
    provider: done.provider,
    model: done.model,
    charged: done.credits.charged,
    estimated: done.usage.estimated,
    interrupted: false,
    // A provider failure after some text ends as `incomplete` with a done event: keep its error message beside it.
    error: done.status === 'incomplete' ? answer.error : undefined,
  };
}

export function applyError(answer: Answer, event: { code: string; message: string }): Answer {
  // Voice failing does not stop the text: the browser speaks it instead.
  if (event.code === 'voice_unavailable') return { ...answer, voiceUnavailable: true };
  if (TERMINAL.has(answer.status)) return answer;
  return { ...answer, status: 'error', error: { code: event.code, message: event.message }, interrupted: false };
}

/**
 * What a reconnect does for each answer in progress: a question whose send
 * ack was lost with the old connection is sent again (the server may never
 * have had it; the same id is answered at most once), one still waiting in
 * socket.io's buffer is left to go out by itself, and the others are resumed.
 */
export function reconnectActions(
  answers: readonly Answer[],
  sends: { lost: { has(id: string): boolean }; buffered: { has(id: string): boolean } },
): Array<{ answer: Answer; action: 'send' | 'resume' }> {
  const actions: Array<{ answer: Answer; action: 'send' | 'resume' }> = [];
  for (const answer of answers) {
    if (!isInProgress(answer)) continue;
    if (sends.lost.has(answer.id)) actions.push({ answer, action: 'send' });
    else if (!sends.buffered.has(answer.id)) actions.push({ answer, action: 'resume' });
  }
  return actions;
}

/** The value for `chat:resume.fromSeq`: the last seq we hold contiguously (-1 when none). */
export function resumeFromSeq(answer: Answer): number {
  return answer.nextSeq - 1;
}

function update(state: ChatState, id: string, change: (answer: Answer) => Answer): ChatState {
  let changed = false;
  const answers = state.answers.map((answer) => {
    if (answer.id !== id) return answer;
    const next = change(answer);
    if (next !== answer) changed = true;
    return next;
  });
  return changed ? { answers } : state;
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'send':
      if (state.answers.some((a) => a.id === action.id)) return state;
      return { answers: [...state.answers, newAnswer(action.id, action.question, action.voice)] };
    case 'token':
      return update(state, action.id, (a) => applyToken(a, action.seq, action.delta));
    case 'done':
      return update(state, action.event.id, (a) => applyDone(a, action.event));
    case 'error':
      return update(state, action.event.id, (a) => applyError(a, action.event));
    case 'stop_requested':
      return update(state, action.id, (a) => (isInProgress(a) && !a.stopRequested ? { ...a, stopRequested: true } : a));
    case 'connection_lost': {
      if (!state.answers.some((a) => isInProgress(a) && !a.interrupted)) return state;
      return { answers: state.answers.map((a) => (isInProgress(a) ? { ...a, interrupted: true } : a)) };
    }
    case 'resumed':
      return update(state, action.id, (a) => (a.interrupted ? { ...a, interrupted: false } : a));
    case 'resume_failed':
      // The server no longer knows this answer (e.g. it restarted): keep what we have, say it is cut short.
      return update(state, action.id, (a) =>
        isInProgress(a) ? { ...a, status: 'incomplete', interrupted: false, error: { code: action.code ?? 'connection_lost', message: action.message } } : a,
      );
    case 'clear':
      return state.answers.some(isInProgress) ? { answers: state.answers.filter(isInProgress) } : emptyChat;
    case 'load':
      return { answers: action.answers };
  }
}

/** What the page shows in `data-status`: pending counts as streaming. */
export function displayStatus(answer: Answer): Exclude<AnswerStatus, 'pending'> {
  return answer.status === 'pending' ? 'streaming' : answer.status;
}

const ERROR_TEXT: Record<string, string> = {
  insufficient_credits: 'You have run out of credits. Top up to keep chatting.',
  rate_limited: 'Too many messages at once. Wait a moment, then try again.',
  provider_unavailable: 'The AI providers are unavailable right now. Please try again shortly.',
  connection_lost: 'The connection dropped and this answer could not be resumed.',
  answer_lost: 'The server answering this stopped before it finished. The text above is all it sent, and you pay only for that. Ask again for a full answer.',
  timeout: 'The server did not answer in time. Please try again.',
};

/** A human sentence for an error code; falls back to the server's message. */
export function errorText(error: AnswerError): string {
  return ERROR_TEXT[error.code] ?? error.message;
}

/**
 * The one answer that carries the "voice is unavailable" notice this session: the
 * first voiced answer the server could not speak, or the one already chosen
 * (`shownFor`, kept in sessionStorage). Once shown, later answers, and a reload
 * that no longer lists that answer, show no notice: a trader reads it once.
 */
export function voiceNoticeAnswerId(answers: readonly Pick<Answer, 'id' | 'voice' | 'voiceUnavailable'>[], shownFor: string | null): string | null {
  if (shownFor) return answers.some((a) => a.id === shownFor) ? shownFor : null;
  return answers.find((a) => a.voice && a.voiceUnavailable)?.id ?? null;
}
