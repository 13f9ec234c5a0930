import { useEffect, useId, useRef, useState } from 'react';
import type { Api, Spend } from '../lib/api.client';

const formatter = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

export function formatCredits(value: number): string {
  return formatter.format(value);
}

const timeFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
const PROVIDERS: Record<string, string> = { xai: 'Grok', openai: 'GPT', anthropic: 'Claude', local: 'Local analyst' };

/** Always-visible balance; opens what each recent question cost (text and voice) with totals. */
export function BalanceView({ balance, api }: { balance: number | null; api: Api }) {
  const [open, setOpen] = useState(false);
  const [spend, setSpend] = useState<Spend | null>(null);
  const [error, setError] = useState<string | null>(null);
  const panelId = useId();
  const root = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    let live = true;
    setError(null);
    api
      .spend()
      .then((r) => live && setSpend(r))
      .catch(() => live && setError('Could not load your credit history.'));
    const close = (e: MouseEvent | KeyboardEvent) => {
      if (e instanceof KeyboardEvent ? e.key === 'Escape' : !root.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', close);
    return () => {
      live = false;
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', close);
    };
  }, [open, api, balance]);

  return (
    <div className="balance" ref={root}>
      <button type="button" className="balance-button" aria-expanded={open} aria-controls={panelId} onClick={() => setOpen((o) => !o)}>
        <span className="balance-label">Credits</span>
        <span data-testid="balance" className="balance-value" aria-live="polite">
          {balance === null ? '…' : formatCredits(balance)}
        </span>
      </button>
      {open && (
        <div id={panelId} className="popover" role="region" aria-labelledby={`${panelId}-title`}>
          <h2 className="popover-title" id={`${panelId}-title`}>
            Spend per question
          </h2>
          {error && <p className="form-error">{error}</p>}
          {!spend && !error && <p className="muted">Loading…</p>}
          {spend?.items.length === 0 && <p className="muted">No questions yet.</p>}
          {spend && spend.items.length > 0 && (
            <>
              <ul className="ledger spend" data-testid="spend-list">
                {spend.items.map((i) => (
                  <li key={i.requestId} data-testid="spend-item">
                    <span className="spend-question" title={i.question ?? undefined}>
                      {i.question ?? 'Question'}
                      <span className="spend-meta muted">
                        <time dateTime={i.at}>{timeFormat.format(new Date(i.at))}</time>
                        {' · '}
                        {i.status === 'in_progress' ? 'answering…' : i.provider ? (PROVIDERS[i.provider] ?? i.provider) : 'not answered'}
                      </span>
                    </span>
                    <span className="spend-credits">
                      <span className="neg" data-testid="spend-credits">
                        {i.estimated ? '≈' : ''}
                        {formatCredits(i.credits)}
                      </span>
                      <span className="spend-split muted">
                        text {formatCredits(i.textCredits)}
                        {i.voiceCredits > 0 ? ` · voice ${formatCredits(i.voiceCredits)}` : ''}
                      </span>
                    </span>
                  </li>
                ))}
              </ul>
              <p className="spend-totals" data-testid="spend-totals">
                {spend.totals.questions} {spend.totals.questions === 1 ? 'question' : 'questions'}: {formatCredits(spend.totals.credits)} credits (text{' '}
                {formatCredits(spend.totals.textCredits)}, voice {formatCredits(spend.totals.voiceCredits)})
              </p>
            </>
          )}
        </div>
      )}
    </div>
  );
}
