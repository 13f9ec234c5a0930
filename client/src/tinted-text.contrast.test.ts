import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * Text on a translucent tint of its own colour (direction and vote chips,
 * status chips, notices): its contrast depends on the surface under it, and
 * which of them a screen shows depends on the data (a short signal, a short
 * vote), so the browser audit (test/e2e/a11y.test.ts) sees one only when the
 * market happens to produce it. Here every such rule of styles.css is checked
 * on every surface of the theme: WCAG 2 AA, 4.5:1 (all of them are small text).
 */
const css = readFileSync(new URL('./styles.css', import.meta.url), 'utf8');
const variables = new Map([...css.matchAll(/--([\w-]+):\s*(#[0-9a-f]{6})\s*;/gi)].map((m) => [m[1]!, m[2]!]));
const rgbOf = (value: string): number[] => {
  const resolved = value.startsWith('var(') ? variables.get(value.slice(6, -1)) : value;
  if (!resolved || !/^#[0-9a-f]{6}$/i.test(resolved)) throw new Error(`not a colour this test reads: ${value}`);
  return [1, 3, 5].map((i) => parseInt(resolved.slice(i, i + 2), 16));
};
const luminance = (rgb: number[]) => {
  const [r, g, b] = rgb.map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const contrast = (a: number[], b: number[]) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
};

/** Rules that set both a translucent background and a text colour (the full-screen overlay is not text on a tint). */
const tinted = [...css.matchAll(/^([^{}\n]+)\{([^}]*)\}/gm)]
  .map((m) => ({ selector: m[1]!.trim(), body: m[2]! }))
  .filter((r) => /background:\s*rgba\(/.test(r.body) && /(^|[;\s])color:/.test(r.body) && !r.selector.includes('overlay'));

describe('text on a tint', () => {
  it('finds the tinted rules it checks', () => {
    expect(tinted.map((r) => r.selector)).toEqual(expect.arrayContaining(['.dir-short', '.vote-short', '.vote-neutral', '.cost-notice.empty']));
  });

  for (const rule of tinted) {
    it(`${rule.selector}: 4.5:1 on every surface`, () => {
      const [r, g, b, alpha] = rule.body.match(/background:\s*rgba\((\d+),\s*(\d+),\s*(\d+),\s*([\d.]+)\)/)!.slice(1).map(Number) as [number, number, number, number];
      const text = rgbOf(rule.body.match(/(?:^|[;\s])color:\s*([^;]+);/)![1]!.trim());
      for (const surface of ['bg', 'bg-2', 'panel', 'panel-2']) {
        const under = rgbOf(`var(--${surface})`);
        const tint = [r, g, b].map((c, i) => Math.round(alpha * c + (1 - alpha) * under[i]!));
        expect(contrast(text, tint), `${rule.selector} on --${surface}`).toBeGreaterThanOrEqual(4.5);
      }
    });
  }
});
