import { describe, expect, it } from 'vitest';
import { evaluateAlerts, type OpsSnapshot } from './alert-rules';

const thresholds = { queueDepth: 100, errorRatePercent: 5, errorRateMinRequests: 20, providerErrors: 5, windowSeconds: 300 };
const quiet: OpsSnapshot = { requests: 1000, errors: 0, providerErrors: {}, failingChecks: {}, queues: { ingest_indicators: 3 } };
const names = (s: Partial<OpsSnapshot>) => evaluateAlerts({ ...quiet, ...s }, thresholds).firing.map((f) => f.name);

describe('evaluateAlerts', () => {
  it.each([
    ['nothing wrong', {}, []],
    ['a queue at its threshold', { queues: { ingest_indicators: 100 } }, []],
    ['a queue over its threshold', { queues: { ingest_indicators: 101, compute_signals: 5 } }, ['queue_depth:ingest_indicators']],
    ['a dead-letter queue, however deep', { queues: { ingest_indicators_dlq: 5000 } }, []],
    ['error rate at 5 %', { requests: 100, errors: 5 }, []],
    ['error rate over 5 %', { requests: 100, errors: 6 }, ['error_rate']],
    ['over 5 % but too few requests to judge', { requests: 19, errors: 19 }, []],
    ['a failing health check', { failingChecks: { trading: 2 } }, ['health:trading']],
    ['provider errors under the threshold', { providerErrors: { xai: 4 } }, []],
    ['provider errors at the threshold', { providerErrors: { xai: 5, openai: 1 } }, ['provider_errors:xai']],
  ] as const)('%s', (_, snapshot, expected) => {
    expect(names(snapshot as Partial<OpsSnapshot>)).toEqual(expected);
  });

  it('cannot judge queue depth without a reading: queue alerts neither fire nor resolve', () => {
    const verdicts = evaluateAlerts({ ...quiet, queues: undefined }, thresholds);
    expect(verdicts.evaluated).not.toContain('queue_depth');
    expect(evaluateAlerts(quiet, thresholds).evaluated).toContain('queue_depth');
  });

  it('says what is wrong in its message', () => {
    const [rate] = evaluateAlerts({ ...quiet, requests: 200, errors: 25 }, thresholds).firing;
    expect(rate!.message).toBe('Server error rate 12.5 % over the last 300 s (25 of 200 requests; threshold 5 %)');
  });
});
