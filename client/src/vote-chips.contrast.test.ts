import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * The signal detail's vote chips (long / short / neutral) are small bold text
 * on a translucent tint of their own colour, so their contrast depends on the
 * surface under them. Which chips a screen shows depends on the market, so
 * the browser audit (test/e2e/a11y.test.ts) sees one only when the data has
 * it: here every chip is checked on every surface of the theme, WCAG 2 AA
 * (4.5:1 for text under 14 pt bold).
 */
const css = readFileSync(new URL('./styles.css', import.meta.url), 'utf8');
const variables = new Map([...css.matchAll(/--([\w-]+):\s*(#[0-9a-f]{6})\s*;/gi)].map((m) => [m[1]!, m[2]!]));
const hex = (value: string): number[] => {
  const resolved = value.startsWith('var(') ? variables.get(value.slice(6, -1))! : value;
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

describe('vote chips', () => {
  const surfaces = ['bg', 'bg-2', 'panel', 'panel-2'];
  for (const vote of ['long', 'short', 'neutral']) {
    it(`${vote}: its text is 4.5:1 against its tint on every surface`, () => {
      const rule = css.match(new RegExp(`\\.vote-${vote}\\s*\\{([^}]*)\\}`))![1]!;
      const [, r, g, b, alpha] = rule.match(/background:\s*rgba\((\d+),\s*(\d+),\s*(\d+),\s*([\d.]+)\)/)!.map(Number) as number[];
      const text = hex(rule.match(/[^-]color:\s*([^;]+);/)![1]!.trim());
      for (const surface of surfaces) {
        const under = hex(`var(--${surface})`);
        const tint = [r!, g!, b!].map((c, i) => Math.round(alpha! * c + (1 - alpha!) * under[i]!));
        expect(contrast(text, tint), `${vote} on --${surface}`).toBeGreaterThanOrEqual(4.5);
      }
    });
  }
});
