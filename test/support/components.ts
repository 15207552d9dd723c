/**
 * Real Prometheus and Alertmanager processes for system tests, started from the local binaries
 * (Debian packages prometheus and prometheus-alertmanager), plus a recorder for the webhooks
 * Alertmanager sends, and readers of the deployment files under deploy/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '@vigil/demo';
import { parse } from 'yaml';

/** A path under the repository's deploy/ directory. */
export function deployPath(...parts: string[]): string {
  return fileURLToPath(new URL(`../../deploy/${parts.join('/')}`, import.meta.url));
}

export function readYaml<T>(path: string): T {
  return parse(readFileSync(path, 'utf8')) as T;
}

/** The part of a Prometheus rule file the tests read. */
export interface RuleFile {
  groups: { name: string; interval?: string; rules: Rule[] }[];
}
export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The part of the Grafana dashboard JSON the tests read. */
export interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  templating?: { list: { name: string; type: string; query?: unknown; datasource?: unknown }[] };
  panels: Panel[];
}
export interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos?: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: { refId: string; expr?: string; datasource?: { type?: string; uid?: string } }[];
  panels?: Panel[];
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(deployPath('grafana', 'dashboards', 'vigil.json'), 'utf8')) as Dashboard;
}

/** Every panel, those nested in collapsed rows included. */
export function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** A child process that logs to memory and is stopped with SIGTERM. */
export interface Component {
  readonly url: string;
  readonly process: ChildProcess;
  readonly output: string[];
  stop(): Promise<void>;
}

async function startComponent(what: string, binary: string, args: string[], port: number, timeoutMs: number): Promise<Component> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitFor(
      `${what} to be ready on ${url}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${output.join('')}`);
        return (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) })).ok || undefined;
      },
      timeoutMs,
      100,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, process: child, output, stop };
}

/**
 * Alertmanager with the given configuration text, its data in `dir/name`, clustering off.
 * `port` is a free one unless given (so a Prometheus configuration can name it beforehand).
 */
export async function startAlertmanager(binary: string, dir: string, name: string, config: string, port?: number): Promise<Component> {
  const home = join(dir, name);
  mkdirSync(join(home, 'data'), { recursive: true });
  const configFile = join(home, 'alertmanager.yml');
  writeFileSync(configFile, config);
  const listen = port ?? (await freePort());
  const args = [`--config.file=${configFile}`, `--storage.path=${join(home, 'data')}`, `--web.listen-address=127.0.0.1:${listen}`, '--cluster.listen-address=', '--log.level=warn'];
  return startComponent(`Alertmanager ${name}`, binary, args, listen, 30_000);
}

/**
 * Prometheus on a configuration file already written, its TSDB in `dir/data`. Firing alerts are
 * sent to Alertmanager again every second instead of every minute: alerts that fired before
 * Prometheus had found its Alertmanager are not left waiting for the next minute.
 */
export async function startPrometheus(binary: string, dir: string, configFile: string, port: number): Promise<Component> {
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--rules.alert.resend-delay=1s',
    '--log.level=warn',
  ];
  return startComponent('Prometheus', binary, args, port, 60_000);
}

/** One notification an Alertmanager webhook receiver got (webhook format version 4). */
export interface AmNotification {
  /** The path the notification was posted to, without its leading slash. */
  from: string;
  receiver: string;
  status: 'firing' | 'resolved';
  groupLabels: Record<string, string>;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string }[];
}

/** An HTTP server recording every webhook notification Alertmanager posts to it. */
export class WebhookRecorder {
  readonly received: AmNotification[] = [];
  private readonly server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Omit<AmNotification, 'from'>;
      this.received.push({ ...body, from: (req.url ?? '').slice(1) });
      res.writeHead(200).end();
    });
  });

  /** Starts listening on a free loopback port; returns the base URL. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
