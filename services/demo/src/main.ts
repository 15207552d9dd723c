/**
 * `npm start`: the whole failover loop on loopback with no external service. A sample primary
 * (8090) with the health-check beside it (8081), the watchdog (8082), the activation service
 * (8083), a sample standby (8091), and a sink (8099) that prints the alerts it receives.
 * `npm run demo:fail` / `npm run demo:recover` talk to the control port (8089).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { generateSecret } from '@vigil/core';
import PinoPretty from 'pino-pretty';
import { SamplePrimary, startAlertSink, startStandby, type PrimaryMode } from './apps.js';
import { DEFAULT_SETTINGS, activationConfig, healthCheckConfig, watchdogConfig, type DemoSettings } from './configs.js';
import { startService, type ServiceName, type ServiceProcess } from './processes.js';

export const CONTROL_PORT = 8089;
const MODES: PrimaryMode[] = ['up', 'erroring', 'hanging', 'stopped'];

const keepState = process.argv.includes('--keep-state');
const settings: DemoSettings = { ...DEFAULT_SETTINGS, dataDir: resolve('.vigil-data/demo') };
const pretty = PinoPretty.prettyFactory({ colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,service', singleLine: true });
const say = (who: string, text: string) => process.stdout.write(`${who.padEnd(13)}| ${text}\n`);

async function main(): Promise<void> {
  if (!keepState) rmSync(settings.dataDir, { recursive: true, force: true });
  mkdirSync(settings.dataDir, { recursive: true });
  const env = { VIGIL_VOTER_SECRET: generateSecret(), VIGIL_ALERT_SECRET: generateSecret() };

  const primary = new SamplePrimary(settings.ports.primary);
  await primary.setMode('up');
  const standby = await startStandby(settings.ports.standby, '127.0.0.1', () => say('standby', 'ENABLED by the activation plan: the secondary region now serves'));
  const sink = await startAlertSink(env.VIGIL_ALERT_SECRET, settings.ports.sink, '127.0.0.1', (a) =>
    say('alert-sink', `${a.status.toUpperCase()} [${a.severity}] ${a.monitor}: ${a.summary} (id ${a.id})`),
  );
  say('demo', `sample primary on :${primary.port}, sample standby on :${standby.port}, alert sink on :${sink.port}`);

  const configs: Record<ServiceName, string> = {
    'health-check': healthCheckConfig(settings),
    activation: activationConfig(settings),
    watchdog: watchdogConfig(settings),
  };
  const services: ServiceProcess[] = [];
  for (const [name, text] of Object.entries(configs) as [ServiceName, string][]) {
    const path = join(settings.dataDir, `${name}.yaml`);
    writeFileSync(path, text);
    services.push(
      startService(name, path, {
        env,
        onLine: (line) => {
          let shown = line;
          try {
            shown = pretty(JSON.parse(line)).trimEnd();
          } catch {
            // not a JSON log line: show it as it is
          }
          say(name, shown);
        },
      }),
    );
  }

  const control = createServer((req, res) => {
    const mode = req.url?.replace(/^\/primary\//, '') as PrimaryMode | undefined;
    if (req.method !== 'POST' || !mode || !MODES.includes(mode)) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'use POST /primary/{up|erroring|hanging|stopped}' }));
      return;
    }
    primary.setMode(mode).then(
      () => {
        say('demo', `sample primary is now ${mode}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ primary: mode }));
      },
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((ok) => control.listen(CONTROL_PORT, '127.0.0.1', ok));

  say('demo', 'running. In another terminal:');
  say('demo', '  npm run demo:fail      # the primary stops (try: npm run demo:fail -- hanging)');
  say('demo', `  curl -s 127.0.0.1:${settings.ports.activation}/v1/active?target=primary`);
  say('demo', '  npm run demo:recover   # the primary comes back');
  say('demo', 'Ctrl-C stops everything.');

  let stopping = false;
  for (const service of services) {
    void service.exited.then(({ code, signal }) => {
      if (!stopping) say('demo', `${service.name} exited unexpectedly (code ${code}, signal ${signal}); stopping the demo`);
      void shutdown(1);
    });
  }

  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await Promise.all(services.map((s) => s.stop('SIGTERM')));
    await Promise.all([primary.close(), standby.close(), sink.close(), new Promise((ok) => control.close(ok))]);
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
