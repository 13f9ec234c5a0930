/**
 * The provider adapter's own cost per token relayed: N concurrent answers,
 * each in a closed loop, through `createOpenAIStyleProvider` (the openai SDK)
 * against the loopback OpenAI-wire mock in its own process, for a fixed
 * number of answers. Prints this process's CPU per 1,000 tokens and its GC
 * share — what the chat bench's "CPU/1k tok" owes to reading the provider's
 * stream, without the database, the sockets or the other clients.
 *
 *   npx tsx bench/provider-stream.ts [--n=50] [--answers=1000] [--tokens=100] [--token-ms=1] [--count-promises] [--transport=node|fetch]
 *
 * --transport=fetch gives the SDK Node's global fetch (undici) instead of our
 * node:http transport (the default, as in production), to compare the two.
 *
 * --count-promises also counts the promises created per token (an async_hooks
 * init hook: it slows the run, so CPU figures of that run are not comparable);
 * unlike CPU time on a shared machine, that count is exact and repeatable.
 */
import { createHook } from 'node:async_hooks';
import { PerformanceObserver } from 'node:perf_hooks';
import os from 'node:os';
import { createOpenAIStyleProvider } from '../server/router/openai.provider';
import { forkChild } from './lib/child';

function arg(name: string, fallback: number): number {
  const v = process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number ≥ 0`);
  return n;
}

async function main() {
  const n = arg('n', 50);
  const answers = arg('answers', 1000);
  const tokens = arg('tokens', 100);
  const tokenMs = arg('token-ms', 1);
  const mock = await forkChild('bench/lib/mock-llm.process.ts');
  try {
    const text = Array.from({ length: tokens }, (_, i) => `w${i % 17}`).join(' ');
    const { url } = await mock.call<{ url: string }>('start', { reply: { text, firstTokenDelayMs: 0, tokenDelayMs: tokenMs } });
    const transport = process.argv.find((a) => a.startsWith('--transport='))?.split('=')[1] ?? 'node';
    if (transport !== 'node' && transport !== 'fetch') throw new Error('--transport must be node or fetch');
    const provider = createOpenAIStyleProvider({
      name: 'xai',
      apiKey: 'bench',
      baseURL: url,
      model: 'grok-bench',
      ...(transport === 'fetch' ? { fetch: globalThis.fetch } : {}),
    });
    const prompt = { system: 'You are a bench.', messages: [{ role: 'user' as const, content: 'Say the words.' }], input: 'Say the words.' };
    let relayed = 0;
    let reconnects = 0;
    const one = async (): Promise<void> => {
      const outcome = await provider.run({
        prompt: prompt as never,
        system: prompt.system,
        messages: prompt.messages,
        maxOutputTokens: 800,
        maxToolRounds: 0,
        signal: new AbortController().signal,
        onToken: () => void relayed++,
        onRequestStart: () => undefined,
        onActivity: () => undefined,
      });
      if (outcome.finished && !outcome.error) return;
      // A keep-alive connection the mock closed as it was reused: the router would retry it; so do we (counted).
      if (outcome.text === '' && (outcome.error as Error | undefined)?.constructor?.name === 'APIConnectionError') {
        reconnects++;
        return one();
      }
      throw new Error(`answer failed: ${String(outcome.error)}`, { cause: outcome.error });
    };
    // Warm-up: JIT and keep-alive connections.
    await Promise.all(Array.from({ length: n }, one));
    relayed = 0;
    let gcMs = 0;
    const gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcMs += e.duration;
    });
    gc.observe({ entryTypes: ['gc'] });
    let promises = 0;
    const hook = process.argv.includes('--count-promises')
      ? createHook({
          init: (_id, type) => {
            if (type === 'PROMISE') promises++;
          },
        }).enable()
      : undefined;
    let left = answers;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: n }, async () => {
        while (left-- > 0) await one();
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    const wall = performance.now() - t0;
    gc.disconnect();
    hook?.disable();
    const cpuMs = (cpu.user + cpu.system) / 1000;
    console.log(
      `[provider-stream] ${transport} transport, N=${n}, ${answers} answers × ${tokens} tokens (${relayed} relayed) in ${(wall / 1000).toFixed(1)} s; ` +
        `CPU ${((cpuMs / relayed) * 1000).toFixed(1)} ms / 1,000 tokens (user ${((cpu.user / 1000 / relayed) * 1000).toFixed(1)}, system ${((cpu.system / 1000 / relayed) * 1000).toFixed(1)}); ` +
        `GC ${((gcMs / relayed) * 1000).toFixed(1)} ms / 1,000 tokens; ${hook ? `${(promises / relayed).toFixed(2)} promises / token; ` : ''}${reconnects} reconnects; load ${os.loadavg()[0]!.toFixed(2)}`,
    );
  } finally {
    await mock.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('[provider-stream] failed:', err);
    process.exit(1);
  },
);
