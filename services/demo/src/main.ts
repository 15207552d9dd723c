/**
 * `npm start`: the whole failover loop on loopback with no external service. A sample primary
 * (8090) with the health-check beside it (8081), the watchdog (8082), the activation service
 * (8083), a sample standby (8091), a sink (8099) that prints the alerts it receives, and a sample
 * client (@vigil/client) that sends a request to the primary's origin every 200 ms and follows the
 * activation service to the standby.
 * `npm run demo:fail` / `npm run demo:recover` talk to the control port (8089).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import PinoPretty from 'pino-pretty';
import { startPrimaryControl } from './apps.js';
import { DEFAULT_SETTINGS, DEMO_OPERATOR_TOKEN } from './configs.js';
import { startSampleClient } from './sample-client.js';
import { startSystem, type System } from './system.js';

export const CONTROL_PORT = 8089;

const keepState = process.argv.includes('--keep-state');
const approval = process.argv.includes('--approval');
const dataDir = resolve('.vigil-data/demo');
const pretty = PinoPretty.prettyFactory({ colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,service', singleLine: true });
const say = (who: string, text: string) => process.stdout.write(`${who.padEnd(13)}| ${text}\n`);

function prettyLine(line: string): string {
  try {
    return pretty(JSON.parse(line)).trimEnd();
  } catch {
    return line; // not a JSON log line: show it as it is
  }
}

async function main(): Promise<void> {
  if (!keepState) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });

  const system: System = await startSystem({
    timing: DEFAULT_SETTINGS,
    ports: DEFAULT_SETTINGS.ports,
    dataDir,
    recordActivationRequests: false,
    operatorToken: DEMO_OPERATOR_TOKEN,
    approval,
    onDisable: () => say('standby', 'DISABLED by the failback plan: the standby stands by again'),
    onLine: (service, line) => say(service, prettyLine(line)),
    onEnable: () => say('standby', 'ENABLED by the activation plan: the secondary region now serves'),
    onAlert: (a) => say('alert-sink', `${a.status.toUpperCase()} [${a.severity}] ${a.monitor}: ${a.summary} (id ${a.id})`),
  });
  const { ports } = system.settings;
  say('demo', `sample primary on :${ports.primary}, sample standby on :${ports.standby}, alert sink on :${ports.sink}; configs in ${dataDir}`);

  const client = startSampleClient({
    activation: system.url('activation', ''),
    target: 'primary',
    primary: `http://127.0.0.1:${ports.primary}`,
    secondary: `http://127.0.0.1:${ports.standby}`,
    say: (text) => say('client', text),
  });
  const control = await startPrimaryControl(system.primary, CONTROL_PORT, '127.0.0.1', (mode) => say('demo', `sample primary is now ${mode}`));

  say('demo', `operator token (a demo value, never use it elsewhere): ${DEMO_OPERATOR_TOKEN}`);
  if (approval) say('demo', 'approval mode: a failover waits for an operator (vigil approve <id> --reason …, or the console)');
  say('demo', 'running. In another terminal:');
  say('demo', `  open http://127.0.0.1:${ports.activation}/console   # the live console (sign in with the token to act)`);
  say('demo', '  npm run demo:fail      # the primary stops (try: npm run demo:fail -- hanging)');
  say('demo', '  npx vigil status       # the active side, epoch, pending activation, monitors');
  say('demo', '  npm run demo:recover   # the primary comes back');
  say('demo', `  VIGIL_TOKEN=${DEMO_OPERATOR_TOKEN} npx vigil failback primary --reason "primary is back" --wait`);
  say('demo', 'Ctrl-C stops everything.');

  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    // The client first: it would otherwise report the activation service going away.
    await client.close();
    await system.stop('SIGTERM');
    await control.close();
    process.exit(code);
  };
  for (const service of Object.values(system.services)) {
    void service.exited.then(({ code, signal }) => {
      if (stopping) return;
      say('demo', `${service.name} exited unexpectedly (code ${code}, signal ${signal}); stopping the demo`);
      void shutdown(1);
    });
  }
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
