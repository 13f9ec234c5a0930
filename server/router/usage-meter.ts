/**
 * Token accounting for one attempt. Provider-reported numbers win; whatever
 * the provider did not report (an aborted OpenAI stream never gets its usage
 * chunk; a cut Anthropic stream misses message_delta) is counted with the
 * bundled o200k tokenizer and the total is marked estimated.
 */
import { countTokens } from 'gpt-tokenizer';
import { LRUCache } from 'lru-cache';
import type { TokenUsage } from './router.types';

/** Per-message framing overhead in chat formats (role markers), as in OpenAI's counting guide. */
const MESSAGE_OVERHEAD = 4;

export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : countTokens(text);
}

/**
 * Tokenizing a whole prompt took ~0.35 ms of the answer's path before its
 * reservation (and ~3 % of the web process's CPU at 100 streams), yet nearly
 * all of it repeats from one answer to the next: the rules, the watchlist, a
 * pair's market line until its next candle, a conversation's earlier turns.
 * So a prompt text is counted line by line (each with its newline), each
 * line's count kept: an answer tokenizes only the lines it has not seen.
 * The sum is at most a token or so per line above the whole text's count
 * (a run of blank lines or a newline after punctuation is one token in the
 * whole text): a reservation sized on it errs on the covered side, and the
 * provider's reported usage is what is charged when it comes.
 */
export function createPromptTextCounter(count: (text: string) => number = countTokens, max = 20_000): (text: string) => number {
  const lineCounts = new LRUCache<string, number>({ max });
  return (text) => {
    let total = 0;
    for (let start = 0; start < text.length; ) {
      const newline = text.indexOf('\n', start);
      const end = newline < 0 ? text.length : newline + 1;
      const line = text.slice(start, end);
      const kept = line.length <= LONGEST_KEPT_LINE;
      let n = kept ? lineCounts.get(line) : undefined;
      if (n === undefined) {
        n = count(line);
        // A copy, not the slice: V8 keeps a sliced string's whole parent alive, so each cached line kept its prompt
        // (~1.5 KB, and a new one for every answer's clock, balance and question lines: up to `max` prompts).
        if (kept) lineCounts.set(line.length < MIN_SLICED_LENGTH ? line : Buffer.from(line).toString(), n);
      }
      total += n;
      start = end;
    }
    return total;
  };
}
const LONGEST_KEPT_LINE = 4_000;
/** Shorter substrings are copied by V8 anyway (SlicedString::kMinLength). */
const MIN_SLICED_LENGTH = 13;

// One per process, like the tool definitions' count below: a cache of a pure function's results.
const estimatePromptText = createPromptTextCounter();

/** Estimated input of a chat request: the texts of system, messages and tool definitions. */
export function estimatePromptTokens(parts: { system?: string; messages: ReadonlyArray<{ content?: unknown }>; tools?: unknown }): number {
  let total = parts.system ? estimatePromptText(parts.system) + MESSAGE_OVERHEAD : 0;
  for (const m of parts.messages) {
    // Plain text messages count their text; tool calls / tool results count their JSON.
    const plain = typeof m.content === 'string' && Object.keys(m).every((k) => k === 'role' || k === 'content');
    total += estimatePromptText(plain ? (m.content as string) : JSON.stringify(m)) + MESSAGE_OVERHEAD;
  }
  if (parts.tools) total += toolTokens(parts.tools);
  return total;
}

// The tool definitions are one constant object per process: counted once, not on every answer's path.
const toolCounts = new WeakMap<object, number>();
function toolTokens(tools: unknown): number {
  if (typeof tools !== 'object' || tools === null) return estimateTokens(JSON.stringify(tools));
  let n = toolCounts.get(tools);
  if (n === undefined) toolCounts.set(tools, (n = estimateTokens(JSON.stringify(tools))));
  return n;
}

interface Round {
  /** The request's input as counted here, or how to count it: only a round the provider does not report is ever counted. */
  estimatedInput: number | (() => number);
  reportedInput?: number;
  reportedOutput?: number;
  outputText: string;
}

export interface UsageMeter {
  /**
   * A request went out whose input is estimated at `estimatedInput`. A function is
   * called only if the provider never reports the input (tokenizing a prompt costs
   * more CPU than relaying its whole answer; the usage chunk almost always comes).
   */
  startRound(estimatedInput: number | (() => number)): void;
  reportInput(tokens: number): void;
  /** Output so far as the provider counts it (Anthropic's message_delta is a running total). */
  reportOutput(tokens: number): void;
  /** Text or tool-argument characters received, for the estimate. */
  addOutput(text: string): void;
  total(): TokenUsage;
  /** Any output at all (text or tool-call pieces) in any round. */
  producedOutput(): boolean;
}

export function createUsageMeter(): UsageMeter {
  const rounds: Round[] = [];
  const current = () => rounds[rounds.length - 1];
  return {
    startRound: (estimatedInput) => {
      rounds.push({ estimatedInput, outputText: '' });
    },
    reportInput: (tokens) => {
      const r = current();
      if (r) r.reportedInput = tokens;
    },
    reportOutput: (tokens) => {
      const r = current();
      if (r) r.reportedOutput = tokens;
    },
    addOutput: (text) => {
      const r = current();
      if (r) r.outputText += text;
    },
    total: () => {
      let inputTokens = 0;
      let outputTokens = 0;
      let estimated = false;
      for (const r of rounds) {
        if (r.reportedInput !== undefined) inputTokens += r.reportedInput;
        else {
          if (typeof r.estimatedInput === 'function') r.estimatedInput = r.estimatedInput();
          inputTokens += r.estimatedInput;
          estimated = true;
        }
        if (r.reportedOutput !== undefined) outputTokens += r.reportedOutput;
        else {
          const counted = estimateTokens(r.outputText);
          outputTokens += counted;
          if (counted > 0) estimated = true;
        }
      }
      return { inputTokens, outputTokens, estimated };
    },
    producedOutput: () => rounds.some((r) => r.outputText.length > 0),
  };
}

export const ZERO_USAGE: TokenUsage = Object.freeze({ inputTokens: 0, outputTokens: 0, estimated: false });
