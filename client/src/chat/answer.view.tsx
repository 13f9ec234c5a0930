import { memo, useMemo } from 'react';
import { formatCredits } from '../credits/balance.view';
import { renderMarkdown } from './markdown';
import { displayStatus, errorText, isInProgress, type Answer } from './stream.logic';

const STATUS_NOTE: Partial<Record<ReturnType<typeof displayStatus>, string>> = {
  aborted: 'Stopped',
  incomplete: 'Incomplete — the answer was cut short',
};

function Markdown({ text }: { text: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  // Sanitised by DOMPurify in renderMarkdown: model output never reaches the DOM raw.
  return <div className="markdown" dangerouslySetInnerHTML={{ __html: html }} />;
}

/** `voiceNotice`: this answer carries the session's one voice-unavailable notice. */
export const AnswerView = memo(function AnswerView({ answer, voiceNotice = false }: { answer: Answer; voiceNotice?: boolean }) {
  const status = displayStatus(answer);
  const streaming = isInProgress(answer);
  const note = STATUS_NOTE[status];
  return (
    <div className="turn">
      <div className="bubble bubble-user">
        <span className="visually-hidden">You said: </span>
        {answer.question}
      </div>
      <article className={`bubble bubble-answer status-${status}${streaming ? ' streaming' : ''}`} data-testid="answer" data-status={status} data-answer-id={answer.id} aria-busy={streaming}>
        <span className="visually-hidden">Zmarty: </span>
        {answer.text ? <Markdown text={answer.text} /> : streaming ? <span className="typing" aria-label="Zmarty is thinking" /> : null}
        {answer.interrupted && (
          <p className="answer-note warn" role="status">
            Connection lost — the answer will resume when we reconnect.
          </p>
        )}
        {answer.error && (
          <p className={`chat-error chat-error-${answer.error.code}`} data-testid="chat-error" data-code={answer.error.code} role="alert">
            {errorText(answer.error)}
          </p>
        )}
        {voiceNotice && <p className="answer-note" data-testid="voice-notice">Voice is unavailable; your browser reads this answer aloud.</p>}
        {(answer.provider || answer.charged !== undefined || note) && (
          <footer className="answer-meta">
            {note && <span className={`status-chip chip-${status}`}>{note}</span>}
            {answer.provider && (
              <span className="badge" data-testid="provider-badge" title="Provider and model that answered">
                {answer.provider} · {answer.model}
              </span>
            )}
            {answer.charged !== undefined && (
              <span className="cost" data-testid="answer-cost" title={answer.estimated ? 'Estimated from a partial answer' : 'Credits charged for this answer'}>
                {answer.estimated ? '≈ ' : ''}
                {formatCredits(answer.charged)} {answer.charged === 1 ? 'credit' : 'credits'}
              </span>
            )}
          </footer>
        )}
      </article>
    </div>
  );
});
