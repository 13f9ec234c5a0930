import type { StoredMessage } from '../lib/api.client';
import { newAnswer, type Answer } from './stream.logic';

/**
 * The server's stored turns as the answers the chat shows: one per request id,
 * its question and (when there is one) its answer. A question whose answer is
 * not stored is still running elsewhere or was lost with a crashed server: it
 * shows as cut short.
 */
export function answersFromMessages(messages: StoredMessage[]): Answer[] {
  const byRequest = new Map<string, { question?: StoredMessage; answer?: StoredMessage }>();
  for (const m of messages) {
    const turn = byRequest.get(m.requestId) ?? {};
    if (m.role === 'user') turn.question = m;
    else turn.answer = m;
    byRequest.set(m.requestId, turn);
  }
  const answers: Answer[] = [];
  for (const [requestId, { question, answer }] of byRequest) {
    if (!question) continue;
    const base = newAnswer(requestId, question.content, false);
    answers.push({
      ...base,
      text: answer?.content ?? '',
      status: answer?.status ?? 'incomplete',
      provider: answer?.provider && answer.provider !== 'none' ? answer.provider : undefined,
      model: answer?.model ?? undefined,
      charged: answer?.credits ?? undefined,
    });
  }
  return answers;
}

/**
 * What a tab remembers of the answer it is streaming, so a reload can resume
 * it (`chat:resume` from `nextSeq - 1`) and show it whole. Kept in
 * sessionStorage while signed in; cleared when it finishes and at sign-out.
 */
export interface InFlight {
  id: string;
  conversationId?: string;
  question: string;
  voice: boolean;
  text: string;
  nextSeq: number;
}

export function inFlightOf(answer: Answer, conversationId: string | undefined): InFlight {
  return { id: answer.id, conversationId, question: answer.question, voice: answer.voice, text: answer.text, nextSeq: answer.nextSeq };
}

/** The answer a reloaded tab shows until the resumed stream catches up: what it had, marked as waiting for the connection. */
export function answerFromInFlight(saved: InFlight): Answer {
  return { ...newAnswer(saved.id, saved.question, saved.voice), text: saved.text, nextSeq: saved.nextSeq, status: 'streaming', interrupted: true };
}

export function parseInFlight(raw: string | null): InFlight | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Partial<InFlight>;
    if (typeof v.id !== 'string' || typeof v.question !== 'string' || typeof v.text !== 'string' || !Number.isInteger(v.nextSeq)) return null;
    return {
      id: v.id,
      conversationId: typeof v.conversationId === 'string' ? v.conversationId : undefined,
      question: v.question,
      voice: v.voice === true,
      text: v.text,
      nextSeq: v.nextSeq!,
    };
  } catch {
    return null;
  }
}
