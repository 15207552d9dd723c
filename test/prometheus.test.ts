import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAST, freePort, getJson, startSystem, waitFor, type System } from '@vigil/demo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { findBinary } from '../packages/core/src/test-support/components.js';
import {
  allPanels,
  deployPath,
  readDashboard,
  readYaml,
  startAlertmanager,
  startPrometheus,
  WebhookRecorder,
  type AmNotification,
  type Component,
  type RuleFile,
} from './support/components.js';

/**
 * The deployed Prometheus and Alertmanager configurations, run for real against the demo system:
 * Prometheus scrapes the three services, the dashboard's queries work on what it scraped, the
 * rules stay quiet while all is well, and a stopped primary or a stopped watchdog reach a webhook
 * through Alertmanager, routed by severity.
 */

const prometheusBinary = findBinary('prometheus', 'prometheus');
const alertmanagerBinary = findBinary('prometheus-alertmanager', 'prometheus-alertmanager');

interface ScrapeConfig {
  job_name: string;
  static_configs: { targets: string[]; labels?: Record<string, string> }[];
  [key: string]: unknown;
}
interface PrometheusConfig {
  global: Record<string, unknown>;
  scrape_configs: ScrapeConfig[];
  [key: string]: unknown;
}
interface Route {
  group_wait?: string;
  group_interval?: string;
  routes?: Route[];
  [key: string]: unknown;
}
interface AlertmanagerConfig {
  route: Route;
  receivers: { name: string; webhook_configs?: { url: string }[] }[];
  [key: string]: unknown;
}

/**
 * deploy/prometheus/prometheus.yml with loopback targets, 1s scrapes and evaluations, the test's
 * rule files and Alertmanager. A job the test cannot place is an error, not a silent omission.
 */
function localPrometheusConfig(targets: Record<string, string>, alertmanager: string, rulesGlob: string): PrometheusConfig {
  const deployed = readYaml<PrometheusConfig>(deployPath('prometheus', 'prometheus.yml'));
  return {
    ...deployed,
    global: { ...deployed.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: [rulesGlob],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [alertmanager] }] }] },
    scrape_configs: deployed.scrape_configs.map(({ scrape_interval: _interval, scrape_timeout: _timeout, ...job }) => {
      const target = targets[job.job_name];
      if (!target) throw new Error(`deploy/prometheus/prometheus.yml: job "${job.job_name}" has no loopback target in test/prometheus.test.ts`);
      return { ...job, static_configs: job.static_configs.map((s) => ({ ...s, targets: [target] })) };
    }),
  };
}

/**
 * The deployed rule files with every `for:` cut to 1s so that alerts fire within seconds. The
 * expressions, labels and annotations are the deployed ones, unchanged.
 */
function writeShortenedRules(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(deployPath('prometheus', 'rules')).filter((f) => f.endsWith('.yml'))) {
    const file = readYaml<RuleFile>(deployPath('prometheus', 'rules', name));
    for (const rule of file.groups.flatMap((g) => g.rules)) if (rule.for) rule.for = '1s';
    writeFileSync(join(dir, name), stringify(file));
  }
}

/** deploy/alertmanager/alertmanager.yml with 1s grouping and every webhook sent to `webhookBase/<receiver>`. */
function localAlertmanagerConfig(webhookBase: string): string {
  const deployed = readYaml<AlertmanagerConfig>(deployPath('alertmanager', 'alertmanager.yml'));
  const shorten = (route: Route): Route => ({
    ...route,
    ...(route.group_wait !== undefined && { group_wait: '1s' }),
    ...(route.group_interval !== undefined && { group_interval: '1s' }),
    ...(route.routes && { routes: route.routes.map(shorten) }),
  });
  return stringify({
    ...deployed,
    route: { ...shorten(deployed.route), group_wait: '1s', group_interval: '1s' },
    receivers: deployed.receivers.map((r) => ({ ...r, webhook_configs: r.webhook_configs?.map((w) => ({ ...w, url: `${webhookBase}/${r.name}` })) })),
  });
}

interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  value: string;
}
type Sample = { metric: Record<string, string>; value: [number, string] };

describe.skipIf(!prometheusBinary || !alertmanagerBinary)('Prometheus and Alertmanager on the deployed configuration', () => {
  let system: System | undefined;
  let prometheus: Component | undefined;
  let alertmanager: Component | undefined;
  const recorder = new WebhookRecorder();
  let dir = '';

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${prometheus!.url}${path}`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error}`);
    return body.data;
  }
  const query = async (expr: string) => (await api<{ result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result;
  const alerts = async () => (await api<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts;
  const firing = async (alertname: string) => (await alerts()).find((a) => a.labels.alertname === alertname && a.state === 'firing');
  /** A firing notification for `alertname` at `receiver`, of an alert that started after `since`. */
  const notified = (receiver: string, alertname: string, since: number) =>
    recorder.received.find((n) => n.from === receiver && n.alerts.some((a) => a.labels.alertname === alertname && a.status === 'firing' && Date.parse(a.startsAt) >= since));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-prometheus-'));
    mkdirSync(join(dir, 'system'));
    system = await startSystem({ timing: FAST, dataDir: join(dir, 'system') });
    await waitFor('a first probe', async () => (await getJson<{ monitors: { state: string }[] }>(system!.url('watchdog', '/v1/monitors'))).body.monitors[0]?.state === 'up');
    const webhookBase = await recorder.start();
    const [prometheusPort, alertmanagerPort] = [await freePort(), await freePort()];
    alertmanager = await startAlertmanager(alertmanagerBinary!, dir, 'alertmanager', localAlertmanagerConfig(webhookBase), alertmanagerPort);

    const ports = system.settings.ports;
    writeShortenedRules(join(dir, 'rules'));
    const config = localPrometheusConfig(
      {
        prometheus: `127.0.0.1:${prometheusPort}`,
        alertmanager: `127.0.0.1:${alertmanagerPort}`,
        'vigil-health-check': `127.0.0.1:${ports.healthCheck}`,
        'vigil-watchdog': `127.0.0.1:${ports.watchdog}`,
        'vigil-activation': `127.0.0.1:${ports.activation}`,
      },
      `127.0.0.1:${alertmanagerPort}`,
      join(dir, 'rules', '*.yml'),
    );
    writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
    prometheus = await startPrometheus(prometheusBinary!, dir, join(dir, 'prometheus.yml'), prometheusPort);
  });

  afterAll(async () => {
    await Promise.all([prometheus?.stop(), alertmanager?.stop()]);
    await recorder.stop();
    await system?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes the three Vigil services, Alertmanager and itself', async () => {
    type Target = { labels: Record<string, string>; health: string; lastError: string };
    const targets = await waitFor(
      'every target up',
      async () => {
        const { activeTargets } = await api<{ activeTargets: Target[] }>('/api/v1/targets');
        const down = activeTargets.filter((t) => t.health !== 'up');
        if (down.length > 0 || activeTargets.length === 0) throw new Error(`not up: ${down.map((t) => `${t.labels.job} (${t.health} ${t.lastError})`).join(', ')}`);
        return activeTargets;
      },
      20_000,
      250,
    );
    expect(targets.map((t) => t.labels.job).sort()).toEqual(['alertmanager', 'prometheus', 'vigil-activation', 'vigil-health-check', 'vigil-watchdog']);
  });

  it('holds the key series of each service', async () => {
    const expected: [string, number | undefined][] = [
      ['probe_success{job="vigil-watchdog",monitor="primary"}', 1],
      ['vigil_monitor_state{job="vigil-watchdog",monitor="primary",state="up"}', 1],
      ['vigil_monitor_consecutive_failures{monitor="primary"}', 0],
      ['vigil_alert_outbox_depth{job="vigil-watchdog"}', 0],
      ['vigil_activation_epoch{job="vigil-activation",target="primary"}', 0],
      ['vigil_active_side{job="vigil-activation",target="primary",side="primary"}', 1],
      ['vigil_health_status{job="vigil-health-check",status="pass"}', 1],
      ['vigil_health_check_status{job="vigil-health-check",check="app",status="pass"}', 1],
      ['count(probe_http_duration_seconds{monitor="primary"})', 5],
      ['time() - vigil_watchdog_last_cycle_timestamp_seconds < 5', undefined],
    ];
    for (const [expr, value] of expected) {
      const result = await waitFor(
        expr,
        async () => {
          const samples = await query(expr);
          return samples.length === 1 ? samples : undefined;
        },
        10_000,
        250,
      );
      if (value !== undefined) expect(Number(result[0]!.value[1]), expr).toBe(value);
    }
  });

  it('evaluates every query of the Grafana dashboard on the scraped data', async () => {
    // Series that exist only once something happened: an https probe, an activation, a refusal.
    const noDataYet = new Set(['Certificate expiry A', 'Plan step duration A', 'Requests refused A']);
    const targets = allPanels(readDashboard()).flatMap((p) => (p.targets ?? []).map((t) => ({ name: `${p.title} ${t.refId}`, expr: t.expr! })));
    // Grafana's variables: every dashboard variable selects all values (allValue ".*").
    const substitute = (expr: string) => expr.replace(/\$__rate_interval|\$__interval/g, '10s').replace(/\$\{?\w+\}?/g, '.*');
    await waitFor(
      'data for every dashboard query',
      async () => {
        const empty: string[] = [];
        for (const { name, expr } of targets) {
          // An evaluation error throws and fails the test at once.
          const result = await query(substitute(expr)).catch((err: Error) => {
            throw new Error(`"${name}": ${err.message}`);
          });
          if (result.length === 0 && !noDataYet.has(name)) empty.push(name);
        }
        if (empty.length > 0) throw new Error(`no data for ${empty.join(', ')}`);
        return true;
      },
      15_000,
      500,
    );
  });

  it('fires nothing but the heartbeat while all is well, and the heartbeat reaches its receiver', async () => {
    const since = Date.now();
    await waitFor(
      'three rule evaluations on the scraped data',
      async () => {
        const { groups } = await api<{ groups: { lastEvaluation: string }[] }>('/api/v1/rules');
        return (groups.length > 0 && groups.every((g) => Date.parse(g.lastEvaluation) > since + 3_000)) || undefined;
      },
      15_000,
      250,
    );
    const active = await alerts();
    expect(active.filter((a) => a.labels.alertname !== 'VigilDeadMansSwitch').map((a) => `${a.labels.alertname} ${a.state} ${JSON.stringify(a.labels)}`)).toEqual([]);
    expect(active).toContainEqual(expect.objectContaining({ state: 'firing', labels: { alertname: 'VigilDeadMansSwitch', severity: 'none' } }));
    await waitFor('the heartbeat at the heartbeat receiver', () => notified('heartbeat', 'VigilDeadMansSwitch', 0), 15_000);
    // Before the first scrapes (Prometheus applies scrape targets after a few seconds) the
    // absent() alerts may fire briefly; nothing may have started since.
    const startedSince = recorder.received.filter((n) => n.from !== 'heartbeat' && n.alerts.some((a) => a.status === 'firing' && Date.parse(a.startsAt) >= since));
    expect(startedSince.map((n) => `${n.from}: ${n.alerts.map((a) => a.labels.alertname).join(', ')}`)).toEqual([]);
  });

  it('pages VigilPrimaryDown and records the failover when the primary stops', async () => {
    const since = Date.now();
    await system!.primary.setMode('stopped');

    const down = await waitFor('VigilPrimaryDown firing', () => firing('VigilPrimaryDown'), 30_000, 250);
    expect(down.labels).toMatchObject({ severity: 'critical', job: 'vigil-watchdog', monitor: 'primary' });
    expect(Number(down.value)).toBeGreaterThanOrEqual(FAST.failureThreshold);
    expect(down.annotations.summary).toMatch(/^primary is down: \d+ consecutive failed probes$/);

    const secondary = await waitFor('VigilSecondaryActive firing', () => firing('VigilSecondaryActive'), 30_000, 250);
    expect(secondary.labels).toMatchObject({ severity: 'info', target: 'primary', side: 'secondary' });
    expect(secondary.annotations.description).toContain('fencing epoch 1.');
    expect(Number((await query('vigil_activation_epoch{target="primary"}'))[0]!.value[1])).toBe(1);

    const page = await waitFor('the VigilPrimaryDown page through Alertmanager', () => notified('pager', 'VigilPrimaryDown', since), 30_000);
    expect(page).toMatchObject({ status: 'firing', receiver: 'pager', groupLabels: { alertname: 'VigilPrimaryDown', monitor: 'primary' } });
    await waitFor('VigilSecondaryActive at the record receiver', () => notified('record', 'VigilSecondaryActive', since), 30_000);
  });

  it('fires the dead man\'s switch VigilWatchdogStalled when the watchdog stops, through Alertmanager to the pager', async () => {
    const since = Date.now();
    await system!.services.watchdog.stop('SIGTERM');

    const stalled = await waitFor('VigilWatchdogStalled firing', () => firing('VigilWatchdogStalled'), 30_000, 250);
    expect(stalled.labels).toMatchObject({ severity: 'critical', job: 'vigil-watchdog', reason: 'unreachable', instance: `127.0.0.1:${system!.settings.ports.watchdog}` });

    const page = await waitFor('the VigilWatchdogStalled page through Alertmanager', () => notified('pager', 'VigilWatchdogStalled', since), 30_000);
    const alert = page.alerts.find((a) => a.labels.alertname === 'VigilWatchdogStalled')!;
    expect(alert).toMatchObject({
      status: 'firing',
      labels: { severity: 'critical', reason: 'unreachable' },
      annotations: { summary: 'the Vigil watchdog is not watching (unreachable)' },
    });
    expect(alert.annotations.description).toContain(`cannot scrape the watchdog 127.0.0.1:${system!.settings.ports.watchdog}.`);
    // Nothing ever reached a receiver that its severity does not route to.
    const misrouted = recorder.received.flatMap((n: AmNotification) => n.alerts.filter((a) => receiverFor(a.labels) !== n.from).map((a) => `${a.labels.alertname} at ${n.from}`));
    expect(misrouted).toEqual([]);
  });
});

/** The routing deploy/alertmanager/alertmanager.yml states. */
function receiverFor(labels: Record<string, string>): string {
  if (labels.alertname === 'VigilDeadMansSwitch') return 'heartbeat';
  return ({ critical: 'pager', warning: 'tickets', info: 'record' } as Record<string, string>)[labels.severity ?? ''] ?? 'tickets';
}
