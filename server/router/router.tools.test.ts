import { describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../../test/mock-providers';
import type { ToolExecutors } from './tools';
import { collector, prompt, routerFor, useMocks } from './router.test-helpers';

const mocks = useMocks();

const DOGE_SIGNAL = { symbol: 'DOGE/USDT', timeframe: '1h', direction: 'short', score: 64, entry: 0.1234 };

function executors(calls: Array<[string, unknown]>): ToolExecutors {
  return {
    get_signal: async (args) => {
      calls.push(['get_signal', args]);
      return DOGE_SIGNAL;
    },
    get_win_rate: async (args) => {
      calls.push(['get_win_rate', args]);
      throw new Error('win rate store down');
    },
    list_my_symbols: async () => [{ symbol: 'BTC/USDT', timeframe: '1h' }],
  };
}

describe('tool calls', () => {
  it('runs the OpenAI-style tool loop (GPT first when a tool is needed) and sums usage over rounds', async () => {
    let second: RecordedRequest | undefined;
    mocks.openai.script(
      {
        toolCalls: [
          { name: 'get_signal', arguments: { symbol: 'doge' } },
          { name: 'get_win_rate', arguments: { symbol: 'DOGE/USDT' } },
        ],
        usage: { inputTokens: 100, outputTokens: 20 },
      },
      (req) => {
        second = req;
        return { text: 'DOGE/USDT is SHORT with score 64.', usage: { inputTokens: 180, outputTokens: 12 } };
      },
    );
    const calls: Array<[string, unknown]> = [];
    const c = collector();
    const result = await routerFor(mocks).stream({ prompt: prompt("what's the signal for DOGE?"), tools: executors(calls), onToken: c.onToken });

    expect(result.route.kind).toBe('tools');
    expect(result.route.order[0]).toBe('openai');
    expect(result).toMatchObject({ provider: 'openai', status: 'complete', text: 'DOGE/USDT is SHORT with score 64.' });
    expect(c.text()).toBe(result.text);
    expect(result.usage).toEqual({ inputTokens: 280, outputTokens: 32, estimated: false });
    // The model's "doge" was normalised before reaching the executor.
    expect(calls).toEqual([
      ['get_signal', { symbol: 'DOGE/USDT' }],
      ['get_win_rate', { symbol: 'DOGE/USDT' }],
    ]);
    expect(result.toolCalls).toEqual([
      { name: 'get_signal', args: { symbol: 'DOGE/USDT' }, ok: true },
      { name: 'get_win_rate', args: { symbol: 'DOGE/USDT' }, ok: false, error: 'win rate store down' },
    ]);

    const first = mocks.openai.requests[0]!.body;
    expect(first.tools.map((t: { function: { name: string } }) => t.function.name)).toEqual(['get_signal', 'get_win_rate', 'list_my_symbols']);
    expect(first.tool_choice).toBe('auto');
    const msgs = second!.body.messages;
    const assistant = msgs.at(-3);
    expect(assistant.role).toBe('assistant');
    expect(assistant.tool_calls.map((t: { function: { name: string; arguments: string } }) => [t.function.name, JSON.parse(t.function.arguments)])).toEqual([
      ['get_signal', { symbol: 'doge' }],
      ['get_win_rate', { symbol: 'DOGE/USDT' }],
    ]);
    expect(msgs.at(-2)).toEqual({ role: 'tool', tool_call_id: assistant.tool_calls[0].id, content: JSON.stringify(DOGE_SIGNAL) });
    expect(msgs.at(-1)).toEqual({ role: 'tool', tool_call_id: assistant.tool_calls[1].id, content: JSON.stringify({ error: 'win rate store down' }) });
  });

  it('runs the Anthropic tool loop with tool_use / tool_result blocks', async () => {
    let second: RecordedRequest | undefined;
    mocks.anthropic.script(
      {
        text: 'Let me check.',
        toolCalls: [{ name: 'get_signal', arguments: { symbol: 'DOGE/USDT' } }],
        usage: { inputTokens: 300, outputTokens: 30 },
      },
      (req) => {
        second = req;
        return { text: ' DOGE is short, unlike BTC.', usage: { inputTokens: 400, outputTokens: 10 } };
      },
    );
    const calls: Array<[string, unknown]> = [];
    const c = collector();
    const result = await routerFor(mocks).stream({ prompt: prompt('compare BTC and DOGE'), tools: executors(calls), onToken: c.onToken });

    expect(result.route.kind).toBe('complex');
    expect(result).toMatchObject({ provider: 'anthropic', status: 'complete', text: 'Let me check. DOGE is short, unlike BTC.' });
    expect(c.text()).toBe(result.text);
    expect(result.usage).toEqual({ inputTokens: 700, outputTokens: 40, estimated: false });
    expect(calls).toEqual([['get_signal', { symbol: 'DOGE/USDT' }]]);

    const first = mocks.anthropic.requests[0]!.body;
    expect(first.tools.map((t: { name: string; input_schema: { type: string } }) => [t.name, t.input_schema.type])).toEqual([
      ['get_signal', 'object'],
      ['get_win_rate', 'object'],
      ['list_my_symbols', 'object'],
    ]);
    expect(typeof first.system).toBe('string');
    const msgs = second!.body.messages;
    const assistant = msgs.at(-2);
    expect(assistant.role).toBe('assistant');
    expect(assistant.content[0]).toEqual({ type: 'text', text: 'Let me check.' });
    expect(assistant.content[1]).toMatchObject({ type: 'tool_use', name: 'get_signal', input: { symbol: 'DOGE/USDT' } });
    expect(msgs.at(-1)).toEqual({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: assistant.content[1].id, content: JSON.stringify(DOGE_SIGNAL) }],
    });
  });

  it('stops the loop after maxToolRounds by forbidding further tool use', async () => {
    const loop = { toolCalls: [{ name: 'list_my_symbols', arguments: {} }] };
    mocks.openai.script(loop, loop, { text: 'You follow BTC/USDT.' });
    const result = await routerFor(mocks, { maxToolRounds: 2 }).stream({ prompt: prompt('list my symbols'), tools: executors([]), prefer: 'openai' });
    expect(result.route.kind).toBe('preferred');
    expect(result.text).toBe('You follow BTC/USDT.');
    expect(mocks.openai.requests.map((r) => r.body.tool_choice)).toEqual(['auto', 'auto', 'none']);
  });

  it('offers no tools when the caller gives no executors', async () => {
    await routerFor(mocks).stream({ prompt: prompt('hello') });
    expect(mocks.xai.requests[0]!.body.tools).toBeUndefined();
  });
});
