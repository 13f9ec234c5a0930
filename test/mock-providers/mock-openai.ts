/**
 * Loopback OpenAI Chat Completions server (`POST /v1/chat/completions`),
 * streaming and not. Also stands in for xAI Grok, which speaks the same wire
 * format. Give `mock.url` (ends in /v1) to the SDK as `baseURL`.
 */
import { startMockHttp, splitPieces, splitTokens, sseHeaders, mockId, type MockControl, type ResponseContext } from './mock-http';
import {
  argumentsText,
  defaultInputTokens,
  defaultOutputTokens,
  retryAfterHeader,
  type MockFault,
  type MockLlmOptions,
  type MockReply,
} from './mock-reply';

export type MockOpenAI = MockControl<MockReply>;

export function startMockOpenAI(options: MockLlmOptions = {}): Promise<MockOpenAI> {
  return startMockHttp<MockReply>({
    urlSuffix: '/v1',
    keepAliveTimeoutMs: options.keepAliveTimeoutMs,
    match: (method, path) => method === 'POST' && path === '/v1/chat/completions',
    defaultReply: options.reply ?? { text: 'Hello from the mock.' },
    notFound: (ctx) => ctx.json(404, errorBody('Unknown request URL', 'invalid_request_error', 'unknown_url')),
    precheck: (ctx) => {
      if (options.apiKey && ctx.record.headers.authorization !== `Bearer ${options.apiKey}`) {
        ctx.json(401, errorBody('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key'));
        return true;
      }
      if (typeof ctx.record.body !== 'object' || !Array.isArray(ctx.record.body?.messages) || typeof ctx.record.body?.model !== 'string') {
        ctx.json(400, errorBody("'messages' and 'model' are required", 'invalid_request_error', null));
        return true;
      }
      return false;
    },
    handle: (ctx, reply) => respond(ctx, { tokenDelayMs: options.tokenDelayMs, firstTokenDelayMs: options.firstTokenDelayMs, ...reply }),
  });
}

function errorBody(message: string, type: string, code: string | null) {
  return { error: { message, type, param: null, code } };
}

async function respond(ctx: ResponseContext, reply: MockReply): Promise<void> {
  const body = ctx.record.body;
  const fault = reply.fault;
  if (fault?.type === 'reset') return ctx.cut();
  if (fault?.type === 'status') {
    const type = fault.errorType ?? (fault.status === 429 ? 'rate_limit_error' : fault.status >= 500 ? 'server_error' : 'invalid_request_error');
    return ctx.json(fault.status, errorBody(fault.message ?? `mock status ${fault.status}`, type, null), retryAfterHeader(fault));
  }
  if (fault?.type === 'overloaded' && fault.afterTokens === undefined) {
    return ctx.json(503, errorBody('The server is overloaded or not ready yet.', 'server_error', null));
  }

  const tokens = reply.tokens ?? splitTokens(reply.text ?? '');
  const toolCalls = (reply.toolCalls ?? []).map((c) => ({ ...c, id: c.id ?? mockId('call_') }));
  const model = reply.model ?? body.model;
  const usage =
    reply.usage === null
      ? null
      : (reply.usage ?? { inputTokens: defaultInputTokens(body), outputTokens: defaultOutputTokens(tokens.join(''), toolCalls) });
  const finishReason = toolCalls.length > 0 ? 'tool_calls' : 'stop';

  if (body.stream !== true) {
    if (!(await ctx.sleep(reply.firstTokenDelayMs ?? 0))) return;
    if (fault) return ctx.cut();
    return ctx.json(200, {
      id: mockId('chatcmpl-'),
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: tokens.length > 0 ? tokens.join('') : null,
            refusal: null,
            ...(toolCalls.length > 0
              ? { tool_calls: toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: argumentsText(c.arguments) } })) }
              : {}),
          },
          logprobs: null,
          finish_reason: finishReason,
        },
      ],
      usage: usage && { prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens },
    });
  }

  const includeUsage = body.stream_options?.include_usage === true;
  const id = mockId('chatcmpl-');
  const created = Math.floor(Date.now() / 1000);
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_mock', choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
  const delta = (d: Record<string, unknown>, finish: string | null = null) => chunk([{ index: 0, delta: d, logprobs: null, finish_reason: finish }]);

  sseHeaders(ctx.res);
  const started = performance.now();
  const firstDelay = reply.firstTokenDelayMs ?? 0;
  const tokenDelay = reply.tokenDelayMs ?? 0;
  // Before unit i (> 0): its own delay, or on the clock, whatever is left until it is due.
  const beforeUnit = (i: number) =>
    reply.pacing === 'clock' ? Math.max(0, started + firstDelay + i * tokenDelay - performance.now()) : tokenDelay;
  if (!(await ctx.sleep(firstDelay))) return;
  if (!ctx.write(delta({ role: 'assistant', content: '', refusal: null }))) return;

  // Every content unit goes through here so that cut/truncate/overload faults trigger at the right count.
  const units: string[] = [...tokens.map((t) => delta({ content: t }))];
  toolCalls.forEach((call, index) => {
    const args = splitPieces(argumentsText(call.arguments), 12);
    units.push(delta({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }));
    for (const piece of args) units.push(delta({ tool_calls: [{ index, function: { arguments: piece } }] }));
  });
  for (let i = 0; i < units.length; i++) {
    if (stopsHere(fault, i)) return stop(ctx, fault!);
    if (i > 0 && !(await ctx.sleep(beforeUnit(i)))) return;
    if (!ctx.write(units[i]!)) return;
    ctx.countUnit();
  }
  if (stopsHere(fault, units.length)) return stop(ctx, fault!);
  if (!ctx.write(delta({}, finishReason))) return;
  if (includeUsage && usage) {
    ctx.write(
      chunk([], { usage: { prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens } }),
    );
  }
  ctx.write('data: [DONE]\n\n');
  ctx.res.end();
}

function stopsHere(fault: MockFault | undefined, sent: number): boolean {
  if (!fault) return false;
  if (fault.type === 'cut' || fault.type === 'truncate') return sent === fault.afterTokens;
  return fault.type === 'overloaded' && fault.afterTokens === sent;
}

async function stop(ctx: ResponseContext, fault: MockFault): Promise<void> {
  if (fault.type === 'cut') return ctx.cut();
  if (fault.type === 'overloaded') {
    // OpenAI reports mid-stream failures as a data line carrying `error`.
    ctx.write(`data: ${JSON.stringify(errorBody('The server is overloaded or not ready yet.', 'server_error', null))}\n\n`);
  }
  ctx.res.end();
}
