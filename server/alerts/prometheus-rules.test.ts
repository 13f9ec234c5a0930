import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/test-server';
import { createMetrics } from '../metrics/metrics';
import { opsConfigFromEnv } from './alerts.config';

const RULES = path.resolve(import.meta.dirname, '../../docs/prometheus-alerts.yml');

interface Rule {
  alert: string;
  expr: string;
}

/** The metric names an expression selects and the label names it matches or groups by, from PromQL's own grammar. */
function referencesOf(expr: string) {
  const tree = parser.parse(expr);
  const metrics = new Set<string>();
  const labels = new Set<string>();
  const errors: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`syntax error at ${node.from}: ${JSON.stringify(expr.slice(Math.max(0, node.from - 20), node.to + 20))}`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') metrics.add(expr.slice(node.from, node.to));
      if (node.name === 'LabelName') labels.add(expr.slice(node.from, node.to));
    },
  });
  return { metrics, labels, errors };
}

describe('docs/prometheus-alerts.yml', () => {
  let server: TestServer;
  let exported: Set<string>;
  let rules: Rule[];

  beforeAll(async () => {
    const doc = parseYaml(await readFile(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> };
    rules = doc.groups.flatMap((g) => g.rules);
    server = await startTestServer();
    const text = await (await fetch(`${server.url}/metrics`)).text();
    exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('ships a rule for each built-in alert', () => {
    expect(rules.map((r) => r.alert)).toEqual(['ZmartyQueueDepth', 'ZmartyErrorRate', 'ZmartyHealthCheckFailing', 'ZmartyProviderErrors']);
  });

  it('parses every expression as PromQL and selects only metrics that /metrics exports, with labels they carry', () => {
    // The label names each metric is declared with, from the factory the server uses (its readers are never called here).
    const metrics = createMetrics({ queues: { read: () => Promise.reject(new Error('unused')) } });
    metrics.watchHealth({ check: () => Promise.reject(new Error('unused')) });
    const labelsOf = new Map(metrics.registry.getMetricsAsArray().map((m) => [m.name, (m as unknown as { labelNames: string[] }).labelNames]));
    for (const rule of rules) {
      const { metrics, labels, errors } = referencesOf(rule.expr);
      expect(errors, rule.alert).toEqual([]);
      expect(metrics.size, rule.alert).toBeGreaterThan(0);
      for (const metric of metrics) {
        expect(exported.has(metric), `${rule.alert}: ${metric} is not on /metrics`).toBe(true);
      }
      // Every label named must be one of the selected metrics' labels (or Prometheus's own `instance`).
      const known = new Set(['instance', ...[...metrics].flatMap((m) => labelsOf.get(m) ?? [])]);
      for (const label of labels) expect(known.has(label), `${rule.alert}: label ${label}`).toBe(true);
    }
  });

  it('uses the built-in defaults as thresholds', () => {
    const d = opsConfigFromEnv({});
    const expr = (name: string) => rules.find((r) => r.alert === name)!.expr.replace(/\s+/g, ' ');
    const window = `[${d.windowSeconds / 60}m]`;
    expect(expr('ZmartyQueueDepth')).toContain(`> ${d.queueDepth}`);
    expect(expr('ZmartyErrorRate')).toContain(`* 100 > ${d.errorRatePercent}`);
    expect(expr('ZmartyErrorRate')).toContain(`>= ${d.errorRateMinRequests}`);
    expect(expr('ZmartyErrorRate')).toContain(window);
    expect(expr('ZmartyProviderErrors')).toContain(`>= ${d.providerErrors}`);
    expect(expr('ZmartyProviderErrors')).toContain(window);
  });

  it('finds a metric that does not exist (the check can fail)', () => {
    const { metrics } = referencesOf('sum(rate(zmarty_no_such_metric_total[5m])) > 1');
    expect([...metrics].filter((m) => !exported.has(m))).toEqual(['zmarty_no_such_metric_total']);
    expect(referencesOf('sum(rate(x[5m]) > 1').errors).not.toEqual([]);
  });
});
