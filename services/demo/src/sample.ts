/**
 * Entry point of the `vigil/demo` image: one sample role per container, so a compose file can put
 * the primary app in one region and the standby and alert sink in the other.
 *
 * Env: VIGIL_SAMPLE_ROLE = primary | standby | sink; PORT (default 8090 / 8091 / 8099);
 * CONTROL_PORT for the primary's control port (default 8089); VIGIL_ALERT_SECRET for the sink.
 * Listens on 0.0.0.0 and logs one JSON line per event. `sample.js healthcheck` asks the role's
 * own port (what the image's HEALTHCHECK runs): exit 0 when it answers, 1 when not.
 */
import { createLogger, isValidSecret, type Logger } from '@vigil/core';
import { SamplePrimary, startAlertSink, startPrimaryControl, startStandby, type RunningServer } from './apps.js';

type Role = 'primary' | 'standby' | 'sink';

const DEFAULT_PORTS: Record<Role, number> = { primary: 8090, standby: 8091, sink: 8099 };
const DEFAULT_CONTROL_PORT = 8089;
const HOST = '0.0.0.0';

interface Settings {
  role: Role;
  port: number;
  controlPort: number;
  secret: string;
}

function portFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`${name}=${JSON.stringify(raw)}: must be a port number from 1 to 65535`);
  return port;
}

/** Reads the settings from the environment; every problem is named, not just the first. */
function settingsFrom(env: NodeJS.ProcessEnv): Settings | string[] {
  const problems: string[] = [];
  const role = env.VIGIL_SAMPLE_ROLE;
  if (role !== 'primary' && role !== 'standby' && role !== 'sink') {
    problems.push(`VIGIL_SAMPLE_ROLE=${JSON.stringify(role ?? '')}: must be one of primary, standby, sink`);
    return problems;
  }
  const port = portFrom(env, 'PORT', DEFAULT_PORTS[role], problems);
  const controlPort = portFrom(env, 'CONTROL_PORT', DEFAULT_CONTROL_PORT, problems);
  const secret = env.VIGIL_ALERT_SECRET ?? '';
  if (role === 'sink' && !isValidSecret(secret)) problems.push('VIGIL_ALERT_SECRET: the sink needs the secret alerts are signed with (whsec_<base64>)');
  return problems.length > 0 ? problems : { role, port, controlPort, secret };
}

/** Where the healthcheck asks: a path that answers whatever state the sample is put in. */
function healthUrl(s: Settings): string {
  if (s.role === 'primary') return `http://127.0.0.1:${s.controlPort}/primary`; // the app itself may be stopped on purpose
  return `http://127.0.0.1:${s.port}${s.role === 'standby' ? '/health' : '/received'}`;
}

async function healthcheck(s: Settings): Promise<number> {
  const url = healthUrl(s);
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    if (res.ok) return 0;
    process.stderr.write(`sample ${s.role}: not healthy: ${url} answered ${res.status}\n`);
  } catch (err) {
    process.stderr.write(`sample ${s.role}: not healthy: ${url}: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  return 1;
}

async function start(s: Settings, log: Logger): Promise<RunningServer[]> {
  switch (s.role) {
    case 'primary': {
      const primary = new SamplePrimary(s.port, HOST);
      await primary.setMode('up');
      const control = await startPrimaryControl(primary, s.controlPort, HOST, (mode) => log.info({ mode }, `sample primary is now ${mode}`));
      log.info({ port: primary.port, controlPort: control.port }, 'sample primary listening (app GET /health; control POST /primary/{up|erroring|hanging|stopped})');
      return [control, { port: primary.port, close: () => primary.close() }];
    }
    case 'standby': {
      const standby = await startStandby(s.port, HOST, (body) => log.info({ body }, 'standby enabled: the secondary region now serves'));
      log.info({ port: standby.port }, 'sample standby listening (POST /admin/enable, GET /, GET /health)');
      return [standby];
    }
    case 'sink': {
      const sink = await startAlertSink(s.secret, s.port, HOST, (alert) => log.info({ alert: { ...alert, body: undefined } }, `alert ${alert.status}: ${alert.summary}`), {
        onAlertmanager: (n) => log.info({ status: n.status, receiver: n.receiver, groupKey: n.groupKey, alerts: n.alerts.length }, `Alertmanager notification ${n.status}`),
        onRejected: (path, status, reason) => log.warn({ path, status }, `delivery refused: ${reason}`),
      });
      log.info({ port: sink.port }, 'alert sink listening (POST /alerts signed, POST /alertmanager, GET /received)');
      return [sink];
    }
  }
}

async function main(argv: readonly string[]): Promise<number | undefined> {
  const command = argv[0] ?? 'run';
  if (command !== 'run' && command !== 'healthcheck') {
    process.stderr.write(`sample: unknown command "${command}"; use run (the default) or healthcheck\n`);
    return 2;
  }
  const settings = settingsFrom(process.env);
  if (Array.isArray(settings)) {
    process.stderr.write(`sample: cannot start:\n${settings.map((p) => `  ${p}\n`).join('')}`);
    return 2;
  }
  if (command === 'healthcheck') return healthcheck(settings);

  const log = createLogger({ service: `vigil-sample-${settings.role}` });
  const servers = await start(settings, log);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    // A client holding a connection open must not keep the container from stopping.
    setTimeout(() => process.exit(1), 5_000).unref();
    Promise.all(servers.map((s) => s.close())).then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'could not close cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return undefined;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`sample: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
