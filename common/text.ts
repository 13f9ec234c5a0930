import { z } from 'zod';

/**
 * The one rule for free text from outside: no NUL (PostgreSQL refuses it in
 * text and jsonb, which surfaced as a 500) and no other control characters —
 * C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F). Multi-line text
 * (a chat message) may keep tab, line feed and carriage return.
 */
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;
const CONTROL_BUT_WHITESPACE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

export interface SafeTextOptions {
  /** Allow tab, line feed and carriage return (default false). */
  multiline?: boolean;
}

/** True when `text` has a control character the rule refuses. */
export function hasControlCharacters(text: string, options: SafeTextOptions = {}): boolean {
  return (options.multiline ? CONTROL_BUT_WHITESPACE : CONTROL).test(text);
}

const message = (options: SafeTextOptions) =>
  options.multiline ? 'must not contain control characters (tab and line breaks are fine)' : 'must not contain control characters';

/**
 * A zod string that refuses control characters; chain `.trim().min().max()` as usual.
 * The check runs on the raw input, before any trim.
 */
export function safeText(options: SafeTextOptions = {}) {
  return z.string().refine((s) => !hasControlCharacters(s, options), { message: message(options) });
}

/**
 * True when any string inside a JSON value — object keys included, at any
 * depth — breaks the rule (keys single-line, string values per `options`).
 */
export function jsonHasControlCharacters(value: unknown, options: SafeTextOptions = {}): boolean {
  if (typeof value === 'string') return hasControlCharacters(value, options);
  if (Array.isArray(value)) return value.some((v) => jsonHasControlCharacters(v, options));
  if (value && typeof value === 'object') {
    return Object.entries(value).some(([k, v]) => hasControlCharacters(k) || jsonHasControlCharacters(v, options));
  }
  return false;
}

/** A zod issue as one line for an error message: `displayName: must not contain control characters`. */
export function issueText(issue: z.core.$ZodIssue | undefined, fallback: string): string {
  if (!issue) return fallback;
  return issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message;
}
