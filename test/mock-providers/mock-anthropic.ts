/**
 * Loopback Anthropic Messages server (`POST /v1/messages`), streaming with
 * named SSE events and not. Give `mock.url` (no /v1) to the SDK as `baseURL`.
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

export type MockAnthropic = MockControl<MockReply>;

export function startMockAnthropic(options: MockLlmOptions = {}): Promise<MockAnthropic> {
  return startMockHttp<MockReply>({
    match: (method, path) => method === 'POST' && path === '/v1/messages',
    defaultReply: options.reply ?? { text: 'Hello from the mock.' },
    notFound: (ctx) => ctx.json(404, errorBody('not_found_error', 'Not found')),
    precheck: (ctx) => {
      const h = ctx.record.headers;
      if (!h['anthropic-version']) {
        ctx.json(400, errorBody('invalid_request_error', 'anthropic-version: header is required'));
        return true;
      }
      if (options.apiKey && h['x-api-key'] !== options.apiKey && h.authorization !== `Bearer ${options.apiKey}`) {
        ctx.json(401, errorBody('authentication_error', 'invalid x-api-key'));
        return true;
      }
      const b = ctx.record.body;
      if (typeof b !== 'object' || !Array.isArray(b?.messages) || typeof b?.model !== 'string' || typeof b?.max_tokens !== 'number') {
        ctx.json(400, errorBody('invalid_request_error', 'model, messages and max_tokens are required'));
        return true;
      }
      return false;
    },
    handle: (ctx, reply) => respond(ctx, { tokenDelayMs: options.tokenDelayMs, firstTokenDelayMs: options.firstTokenDelayMs, ...reply }),
  });
}

function errorBody(type: string, message: string) {
  return { type: 'error', error: { type, message }, request_id: mockId('req_') };
}

function statusErrorType(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return 'overloaded_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

async function respond(ctx: ResponseContext, reply: MockReply): Promise<void> {
  const body = ctx.record.body;
  const fault = reply.fault;
  if (fault?.type === 'reset') return ctx.cut();
  if (fault?.type === 'status') {
    return ctx.json(fault.status, errorBody(fault.errorType ?? statusErrorType(fault.status), fault.message ?? `mock status ${fault.status}`), retryAfterHeader(fault));
  }
  if (fault?.type === 'overloaded' && fault.afterTokens === undefined) return ctx.json(529, errorBody('overloaded_error', 'Overloaded'));

  const tokens = reply.tokens ?? splitTokens(reply.text ?? '');
  const toolCalls = (reply.toolCalls ?? []).map((c) => ({ ...c, id: c.id ?? mockId('toolu_') }));
  const model = reply.model ?? body.model;
  // Anthropic always reports usage; `null` here just means "report zeros".
  const usage = reply.usage ?? (reply.usage === null ? { inputTokens: 0, outputTokens: 0 } : undefined) ?? {
    inputTokens: defaultInputTokens(body),
    outputTokens: defaultOutputTokens(tokens.join(''), toolCalls),
  };
  const stopReason = toolCalls.length > 0 ? 'tool_use' : 'end_turn';
  const id = mockId('msg_');

  if (body.stream !== true) {
    if (!(await ctx.sleep(reply.firstTokenDelayMs ?? 0))) return;
    if (fault) return ctx.cut();
    const content: unknown[] = [];
    if (tokens.length > 0) content.push({ type: 'text', text: tokens.join('') });
    for (const c of toolCalls) content.push({ type: 'tool_use', id: c.id, name: c.name, input: JSON.parse(argumentsText(c.arguments)) });
    return ctx.json(200, {
      id,
      type: 'message',
      role: 'assistant',
      content,
      model,
      stop_reason: stopReason,
      stop_sequence: null,
      usage: { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens },
    });
  }

  const event = (name: string, data: Record<string, unknown>) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
  sseHeaders(ctx.res, { 'request-id': mockId('req_') });
  ctx.write(
    event('message_start', {
      message: { id, type: 'message', role: 'assistant', content: [], model, stop_reason: null, stop_sequence: null, usage: { input_tokens: usage.inputTokens, output_tokens: 1 } },
    }),
  );
  if (!(await ctx.sleep(reply.firstTokenDelayMs ?? 0))) return;

  // Content units, each with the framing events that must precede/follow it.
  const units: Array<{ before?: string; unit: string; after?: string }> = [];
  let index = 0;
  if (tokens.length > 0) {
    tokens.forEach((t, i) =>
      units.push({
        before: i === 0 ? event('content_block_start', { index, content_block: { type: 'text', text: '' } }) + event('ping', {}) : undefined,
        unit: event('content_block_delta', { index, delta: { type: 'text_delta', text: t } }),
        after: i === tokens.length - 1 ? event('content_block_stop', { index }) : undefined,
      }),
    );
    index += 1;
  }
  for (const call of toolCalls) {
    const pieces = splitPieces(argumentsText(call.arguments), 12);
    const blockIndex = index;
    units.push({ unit: event('content_block_start', { index: blockIndex, content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} } }) });
    pieces.forEach((p, i) =>
      units.push({
        unit: event('content_block_delta', { index: blockIndex, delta: { type: 'input_json_delta', partial_json: p } }),
        after: i === pieces.length - 1 ? event('content_block_stop', { index: blockIndex }) : undefined,
      }),
    );
    index += 1;
  }

  for (let i = 0; i < units.length; i++) {
    if (stopsHere(fault, i)) return stop(ctx, fault!);
    if (i > 0 && !(await ctx.sleep(reply.tokenDelayMs ?? 0))) return;
    const u = units[i]!;
    if (!ctx.write((u.before ?? '') + u.unit)) return;
    ctx.countUnit();
    if (u.after) ctx.write(u.after);
  }
  if (stopsHere(fault, units.length)) return stop(ctx, fault!);
  ctx.write(event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.outputTokens } }));
  ctx.write(event('message_stop', {}));
  ctx.res.end();
}

function stopsHere(fault: MockFault | undefined, sent: number): boolean {
  if (!fault) return false;
  if (fault.type === 'cut' || fault.type === 'truncate') return sent === fault.afterTokens;
  return fault.type === 'overloaded' && fault.afterTokens === sent;
}

async function stop(ctx: ResponseContext, fault: MockFault): Promise<void> {
  if (fault.type === 'cut') return ctx.cut();
  if (fault.type === 'overloaded') ctx.write(`event: error\ndata: ${JSON.stringify(errorBody('overloaded_error', 'Overloaded'))}\n\n`);
  ctx.res.end();
}
