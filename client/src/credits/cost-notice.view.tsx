import type { Prices } from '../lib/api.client';
import { formatCredits } from './balance.view';

/** Where the balance stands against what answers cost: below `fullAnswer` answers may be shortened, below `minimumAnswer` refused. */
export function balanceLevel(balance: number | null, prices: Prices | null, voice: boolean): 'ok' | 'low' | 'empty' {
  if (balance === null || !prices) return 'ok';
  if (balance < prices.minimumAnswer) return 'empty';
  const full = prices.fullAnswer + (voice && prices.voice ? prices.voice.upTo : 0);
  return balance < full ? 'low' : 'ok';
}

/** The low-balance notice shown above the composer, before a question is refused. */
export function CostNoticeView({ balance, prices, voice }: { balance: number | null; prices: Prices | null; voice: boolean }) {
  const level = balanceLevel(balance, prices, voice);
  if (level === 'ok' || balance === null) return null;
  return (
    <p className={`cost-notice ${level}`} role="status" data-testid="low-balance">
      {level === 'empty'
        ? `Your balance (${formatCredits(balance)} credits) no longer covers an answer. Add credits to keep asking.`
        : `Low balance: ${formatCredits(balance)} credits left. Answers are shortened to fit what you have${voice && prices?.voice ? '; turning Voice off makes them longer' : ''}.`}
    </p>
  );
}

/** What Voice adds to an answer, for its toggle (null until prices are known). */
export function voicePriceLabel(prices: Prices | null): string | null {
  if (!prices) return null;
  // Without a voice provider the browser speaks the answer: nothing is charged for it.
  if (!prices.voice) return 'browser voice, no extra credits';
  return `≈ +${formatCredits(prices.voice.perAnswer)} credits per answer`;
}
