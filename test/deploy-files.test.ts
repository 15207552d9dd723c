import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAST, getJson, startSystem, waitFor, type ServiceName, type System } from '@vigil/demo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { findBinary } from '../packages/core/src/test-support/components.js';
import { allPanels, deployPath, readDashboard, readYaml, type Rule, type RuleFile } from './support/components.js';

/**
 * The files under deploy/ for Prometheus, Alertmanager and Grafana: valid for their tools, true
 * to the compose contract (hostnames, ports, paths), and naming only metrics the services export.
 */

const promtool = findBinary('promtool', 'prometheus');
const amtool = findBinary('amtool', 'prometheus-alertmanager');

const yamlFiles = (dir: string) =>
  readdirSync(deployPath(dir))
    .filter((f) => f.endsWith('.yml'))
    .map((f) => deployPath(dir, f));
const ruleFilePaths = yamlFiles('prometheus/rules');
const testFilePaths = yamlFiles('prometheus/tests');
const rules: Rule[] = ruleFilePaths.flatMap((f) => readYaml<RuleFile>(f).groups.flatMap((g) => g.rules));
const alertRules = rules.filter((r): r is Rule & { alert: string } => r.alert !== undefined);
const alertNames = new Set(alertRules.map((r) => r.alert));

function run(binary: string, args: string[]): { status: number | null; stdout: string; output: string } {
  const result = spawnSync(binary, args, { encoding: 'utf8', cwd: deployPath() });
  return { status: result.status, stdout: result.stdout, output: `${binary} ${args.join(' ')}\n${result.stdout}${result.stderr}` };
}

/** Fails with the tool's own output, so a broken rule test reads like promtool's report. */
function expectSuccess(result: { status: number | null; output: string }): void {
  expect(result.status, result.output).toBe(0);
}

interface PrometheusConfig {
  global: Record<string, unknown>;
  rule_files: string[];
  alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  scrape_configs: { job_name: string; static_configs: { targets: string[]; labels?: Record<string, string> }[] }[];
}

describe('Prometheus configuration and rules', () => {
  const config = readYaml<PrometheusConfig>(deployPath('prometheus', 'prometheus.yml'));

  it('scrapes the three services under the contract job names and alerts to alertmanager:9093', () => {
    const targets = Object.fromEntries(config.scrape_configs.map((j) => [j.job_name, j.static_configs.flatMap((s) => s.targets)]));
    expect(targets).toMatchObject({
      'vigil-health-check': ['health-check:8081'],
      'vigil-watchdog': ['watchdog:8082'],
      'vigil-activation': ['activation:8083'],
      alertmanager: ['alertmanager:9093'],
    });
    expect(config.rule_files).toEqual(['/etc/prometheus/rules/*.yml']);
    expect(config.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets))).toEqual(['alertmanager:9093']);
  });

  it.skipIf(!promtool)('passes promtool check config, rule files included', () => {
    // The rule files are named by their path in the container: point them at the repository's.
    const dir = mkdtempSync(join(tmpdir(), 'vigil-promtool-'));
    try {
      const file = join(dir, 'prometheus.yml');
      writeFileSync(file, stringify({ ...config, rule_files: [deployPath('prometheus', 'rules', '*.yml')] }));
      const result = run(promtool!, ['check', 'config', file]);
      expectSuccess(result);
      expect(result.output).toMatch(new RegExp(`SUCCESS: ${alertRules.length + rules.filter((r) => r.record).length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!promtool)('passes promtool check rules', () => {
    expect(ruleFilePaths.length).toBeGreaterThan(0);
    expectSuccess(run(promtool!, ['check', 'rules', ...ruleFilePaths]));
  });

  it.skipIf(!promtool)('passes its promtool rule unit tests', () => {
    expect(testFilePaths.length).toBeGreaterThan(0);
    expectSuccess(run(promtool!, ['test', 'rules', ...testFilePaths]));
  });

  it('gives every alert a severity, summary, description and runbook', () => {
    for (const rule of alertRules) {
      expect(['critical', 'warning', 'info', 'none'], `severity of ${rule.alert}`).toContain(rule.labels?.severity);
      for (const key of ['summary', 'description', 'runbook']) expect(rule.annotations?.[key], `${key} of ${rule.alert}`).toBeTruthy();
    }
  });

  it('has a unit test where each alert fires and one where it does not (the heartbeat always fires)', () => {
    interface TestFile {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    }
    const cases = testFilePaths.flatMap((f) => readYaml<TestFile>(f).tests.flatMap((t) => t.alert_rule_test ?? []));
    const firing = new Set(cases.filter((c) => (c.exp_alerts ?? []).length > 0).map((c) => c.alertname));
    const silent = new Set(cases.filter((c) => (c.exp_alerts ?? []).length === 0).map((c) => c.alertname));
    for (const name of alertNames) {
      expect(firing.has(name), `a test where ${name} fires`).toBe(true);
      if (name !== 'VigilDeadMansSwitch') expect(silent.has(name), `a test where ${name} does not fire`).toBe(true);
    }
    const unknown = [...firing, ...silent].filter((n) => !alertNames.has(n));
    expect(unknown, 'tests of alerts no rule defines').toEqual([]);
  });
});

interface Matchers {
  source_matchers?: string[];
  target_matchers?: string[];
}
interface AlertmanagerConfig {
  route: { receiver: string; group_by: string[] };
  inhibit_rules: (Matchers & { equal?: string[] })[];
  receivers: { name: string; webhook_configs?: { url: string; send_resolved?: boolean }[] }[];
}

describe('Alertmanager configuration', () => {
  const file = deployPath('alertmanager', 'alertmanager.yml');
  const config = readYaml<AlertmanagerConfig>(file);

  it.skipIf(!amtool)('passes amtool check-config', () => {
    expectSuccess(run(amtool!, ['check-config', file]));
  });

  it.skipIf(!amtool)('routes each alert of the rules to the receiver of its severity', () => {
    const receiverOf: Record<string, string> = { critical: 'pager', warning: 'tickets', info: 'record' };
    for (const rule of alertRules) {
      const severity = rule.labels!.severity!;
      const expected = rule.alert === 'VigilDeadMansSwitch' ? 'heartbeat' : receiverOf[severity];
      const result = run(amtool!, ['config', 'routes', 'test', `--config.file=${file}`, `alertname=${rule.alert}`, `severity=${severity}`, 'monitor=primary']);
      expectSuccess(result);
      expect(result.stdout.trim(), `receiver of ${rule.alert} (${severity})`).toBe(expected);
    }
  });

  it('groups by alert and monitor and posts to the sink with resolutions', () => {
    expect(config.route.group_by).toEqual(['alertname', 'monitor']);
    for (const receiver of config.receivers) {
      expect(receiver.webhook_configs, `webhook of ${receiver.name}`).toEqual([{ url: 'http://alert-sink:8099/alertmanager', send_resolved: true }]);
    }
  });

  it('inhibits only with alerts the rules define', () => {
    const named = (matchers: string[] = []) =>
      matchers.flatMap((m) => {
        const match = /^alertname(=~|=)"(.*)"$/.exec(m);
        return match ? (match[1] === '=' ? [match[2]!] : match[2]!.split('|')) : [];
      });
    const names = config.inhibit_rules.flatMap((r) => [...named(r.source_matchers), ...named(r.target_matchers)]);
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((n) => !alertNames.has(n))).toEqual([]);
  });
});

describe('Grafana provisioning and dashboard', () => {
  const dashboard = readDashboard();
  const panels = allPanels(dashboard);

  it('provisions the Prometheus data source and the dashboards directory', () => {
    const datasources = yamlFiles('grafana/provisioning/datasources').flatMap((f) => readYaml<{ datasources: { type: string; url: string }[] }>(f).datasources);
    expect(datasources).toContainEqual(expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' }));
    const providers = yamlFiles('grafana/provisioning/dashboards').flatMap((f) => readYaml<{ providers: { type: string; options: { path: string } }[] }>(f).providers);
    expect(providers).toContainEqual(expect.objectContaining({ type: 'file', options: expect.objectContaining({ path: '/var/lib/grafana/dashboards' }) as unknown }));
  });

  it('is a dashboard with a uid, a schema version and a data source variable', () => {
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating?.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
    for (const variable of dashboard.templating!.list.filter((v) => v.type === 'query')) {
      expect(variable.datasource, `data source of variable ${variable.name}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
    }
  });

  it('has unique panel ids, panels inside the 24-column grid that do not overlap, and queries on the variable', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Map<string, string>();
    for (const panel of panels) {
      const { h, w, x, y } = panel.gridPos ?? { h: 0, w: 0, x: -1, y: -1 };
      expect(x >= 0 && w > 0 && h > 0 && x + w <= 24, `gridPos of "${panel.title}"`).toBe(true);
      for (let row = y; row < y + h; row++) {
        for (let col = x; col < x + w; col++) {
          const other = cells.get(`${row},${col}`);
          expect(other, `"${panel.title}" overlaps "${other}"`).toBeUndefined();
          cells.set(`${row},${col}`, panel.title);
        }
      }
      if (panel.type === 'row') continue;
      expect(panel.datasource, `data source of "${panel.title}"`).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, `targets of "${panel.title}"`).toBeGreaterThan(0);
      const refIds = panel.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, `refIds of "${panel.title}"`).toBe(refIds.length);
      for (const target of panel.targets!) {
        expect(target.expr?.trim(), `expr of "${panel.title}" ${target.refId}`).toBeTruthy();
        expect(target.datasource, `data source of "${panel.title}" ${target.refId}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
      }
    }
  });
});

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression selects (functions, keywords, labels and strings left out). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\$\{?\w+\}?/g, '');
  return [...bare.matchAll(/(?<![\w.:])[a-zA-Z_:][\w:]*/g)]
    .filter((m) => !/^\s*\(/.test(bare.slice(m.index + m[0].length)) && !PROMQL_WORDS.has(m[0].toLowerCase()))
    .map((m) => m[0]);
}

/** Every PromQL expression in the rules (incl. queries in annotation templates) and the dashboard, with where it is. */
function usedExpressions(): { where: string; expr: string }[] {
  const used = alertRules.map((r) => ({ where: `rule ${r.alert}`, expr: r.expr }));
  for (const rule of alertRules) {
    for (const text of Object.values(rule.annotations ?? {})) {
      for (const m of text.matchAll(/printf\s+"((?:[^"\\]|\\.)*)"[^|}]*\|\s*query/g)) used.push({ where: `annotation of ${rule.alert}`, expr: m[1]!.replace(/\\"/g, '"') });
    }
  }
  const dashboard = readDashboard();
  for (const panel of allPanels(dashboard)) for (const t of panel.targets ?? []) used.push({ where: `panel "${panel.title}" ${t.refId}`, expr: t.expr ?? '' });
  for (const variable of dashboard.templating?.list ?? []) {
    const query = typeof variable.query === 'object' && variable.query !== null ? (variable.query as { query?: string }).query : undefined;
    const metric = query && /^label_values\(\s*([^,)]+)/.exec(query)?.[1];
    if (metric) used.push({ where: `variable ${variable.name}`, expr: metric });
  }
  return used;
}

/** Names in the Prometheus text format: every family (TYPE line) with its histogram/summary series. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name! + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name! + s);
  }
  return names;
}

describe('metric names in the rules and the dashboard', () => {
  let system: System | undefined;
  let dir = '';
  // `up` is the series Prometheus writes for every scrape.
  const exported = new Set(['up']);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-metric-names-'));
    system = await startSystem({ timing: FAST, dataDir: dir });
    await waitFor('a first probe', async () => (await getJson<{ monitors: { state: string }[] }>(system!.url('watchdog', '/v1/monitors'))).body.monitors[0]?.state === 'up');
    for (const service of ['health-check', 'watchdog', 'activation'] as ServiceName[]) {
      for (const name of exportedNames(await (await fetch(system.url(service, '/metrics'))).text())) exported.add(name);
    }
  });
  afterAll(async () => {
    await system?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finds the names in an expression, and would report a misspelt one', () => {
    expect(metricNames('sum by (monitor) (rate(vigil_probes_totl{monitor=~"$monitor"}[$__rate_interval])) > 0 and on (job) up == 0')).toEqual(['vigil_probes_totl', 'up']);
    expect(metricNames('label_replace(time() - vigil_watchdog_last_cycle_timestamp_seconds > 120, "reason", "x", "", "") or absent(up{job="a"})')).toEqual([
      'vigil_watchdog_last_cycle_timestamp_seconds',
      'up',
    ]);
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) * 1e3 < 14 * 86400')).toEqual(['x_bucket']);
    expect(exported.has('vigil_probes_totl')).toBe(false);
  });

  it('uses only names the three services export (scraped from the running services)', () => {
    expect(exported.has('vigil_monitor_state') && exported.has('vigil_health_status') && exported.has('vigil_active_side')).toBe(true);
    const used = usedExpressions();
    expect(used.length).toBeGreaterThan(30);
    const unknown = used.flatMap(({ where, expr }) => metricNames(expr).filter((n) => !exported.has(n)).map((n) => `${n} (${where})`));
    expect(unknown).toEqual([]);
  });
});
