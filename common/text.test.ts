import { describe, expect, it } from 'vitest';
import { jsonHasControlCharacters, safeText } from './text';

describe('safeText', () => {
  const single = safeText().trim().min(1).max(20);
  const multi = safeText({ multiline: true }).trim().min(1);

  it.each([
    ['NUL', 'a\u0000b'],
    ['BEL', 'a\u0007b'],
    ['ESC (terminal escapes)', '\u001b[31mred'],
    ['DEL', 'a\u007fb'],
    ['C1 NEL', 'a\u0085b'],
    ['C1 CSI', 'a\u009bb'],
    ['a lone NUL (trim would not remove it)', '\u0000'],
  ])('refuses %s in single- and multi-line text', (_name, text) => {
    expect(single.safeParse(text).success).toBe(false);
    expect(multi.safeParse(text).success).toBe(false);
    expect(single.safeParse(text).error?.issues[0]?.message).toContain('control characters');
  });

  it('lets multi-line text keep tabs and line breaks, and refuses them in single-line text', () => {
    for (const text of ['line one\nline two', 'a\tb', 'windows\r\nline']) {
      expect(multi.safeParse(text).success).toBe(true);
      expect(single.safeParse(text).success).toBe(false);
    }
  });

  it('accepts ordinary text, emoji and other scripts, trimmed', () => {
    expect(single.parse('  Satoshi 🚀 ')).toBe('Satoshi 🚀');
    expect(single.parse('トレーダー')).toBe('トレーダー');
    expect(multi.parse('BTC > 100k?\n  — “yes”')).toBe('BTC > 100k?\n  — “yes”');
  });
});

describe('jsonHasControlCharacters', () => {
  it('finds a control character in any key or string value, at any depth', () => {
    expect(jsonHasControlCharacters({ name: 'ok', tags: ['a', { deep: 'x\u0000' }] })).toBe(true);
    expect(jsonHasControlCharacters({ 'bad\u0000key': 1 })).toBe(true);
    expect(jsonHasControlCharacters({ nested: { 'k\u0001': 'v' } })).toBe(true);
    expect(jsonHasControlCharacters({ bio: 'two\nlines' }, { multiline: true })).toBe(false);
    expect(jsonHasControlCharacters({ 'two\nlines': 'v' }, { multiline: true })).toBe(true);
    expect(jsonHasControlCharacters({ name: 'Satoshi', age: 40, admin: false, none: null, list: [1, 'two'] })).toBe(false);
  });
});
