import { useEffect, useId, useRef, useState } from 'react';
import type { Api, CreditEntry } from '../lib/api.client';

const formatter = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

export function formatCredits(value: number): string {
  return formatter.format(value);
}

/** Always-visible balance; opens the recent ledger entries on demand. */
export function BalanceView({ balance, api }: { balance: number | null; api: Api }) {
  const [open, setOpen] = useState(false);
  const [entries, setEntries] = useState<CreditEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const panelId = useId();
  const root = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    let live = true;
    setError(null);
    api
      .credits()
      .then((r) => live && setEntries(r.entries))
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
        <div id={panelId} className="popover" role="region" aria-label="Recent credit activity">
          <h2 className="popover-title">Recent activity</h2>
          {error && <p className="form-error">{error}</p>}
          {!entries && !error && <p className="muted">Loading…</p>}
          {entries?.length === 0 && <p className="muted">No activity yet.</p>}
          {entries && entries.length > 0 && (
            <ul className="ledger">
              {entries.slice(0, 20).map((e) => (
                <li key={e.id}>
                  <span className="ledger-reason">
                    {e.reason}
                    {e.model ? <span className="muted"> · {e.model}</span> : null}
                  </span>
                  <span className={e.delta < 0 ? 'neg' : 'pos'}>
                    {e.estimated ? '≈' : ''}
                    {e.delta > 0 ? '+' : ''}
                    {formatCredits(e.delta)}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}
