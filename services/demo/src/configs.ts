import { parseDuration } from '@vigil/core';

/** The demo's configuration files: everything on loopback, settings small enough to watch. */
export interface DemoSettings {
  ports: { primary: number; standby: number; sink: number; healthCheck: number; watchdog: number; activation: number };
  dataDir: string;
  interval: string;
  timeout: string;
  failureThreshold: number;
  successThreshold: number;
  /** Where the watchdog sends activation requests; defaults to the activation service itself. */
  activationUrl?: string;
  /** Activation replicas coordinating through etcd instead of one process on files. */
  coordination?: { endpoints: string[]; prefix: string };
  /** Further activation replicas the watchdog sends each vote to, besides `activationUrl`. */
  replicaUrls?: string[];
  /** The target waits for an operator's approval before its plan runs (`npm run demo:approval`). */
  approval?: boolean;
}

/** The operator's name in the demo's configs; the token comes from `VIGIL_OPERATOR_TOKEN`. */
export const DEMO_OPERATOR = 'demo-operator';
/** The token `npm start` configures (printed at start): a demo value, known to anyone who reads this. */
export const DEMO_OPERATOR_TOKEN = 'vigil-demo-operator-token-not-a-secret';

export const DEFAULT_SETTINGS: Omit<DemoSettings, 'dataDir'> = {
  ports: { primary: 8090, standby: 8091, sink: 8099, healthCheck: 8081, watchdog: 8082, activation: 8083 },
  interval: '2s',
  // The watchdog's default probe timeout (room for a retransmitted SYN; README, "Detection under loss").
  timeout: '1900ms',
  failureThreshold: 3,
  successThreshold: 2,
};

/**
 * /health must answer inside the watchdog's probe timeout, or a slow dependency would look like a
 * dead region: the deadline is 80% of the probe timeout, and each check gets half of it.
 */
export function healthCheckConfig(s: DemoSettings): string {
  const probeTimeoutMs = parseDuration(s.timeout) ?? 1_000;
  return `# Runs beside the primary and reports whether the primary region can serve.
server: { host: 127.0.0.1, port: ${s.ports.healthCheck} }
serviceId: primary
deadline: ${Math.floor(probeTimeoutMs * 0.8)}ms
checks:
  - name: app
    kind: http
    url: http://127.0.0.1:${s.ports.primary}/health
    timeout: ${Math.floor(probeTimeoutMs * 0.5)}ms
`;
}

/** Secrets reach the services through the environment, as `${VAR}` in the files shows. */
export function watchdogConfig(s: DemoSettings): string {
  return `# Runs in the secondary region and probes the primary's health-check service.
server: { host: 127.0.0.1, port: ${s.ports.watchdog} }
dataDir: ${s.dataDir}/watchdog
voter: { id: watchdog-1, secret: "\${VIGIL_VOTER_SECRET}" }
# Pause and resume (vigil pause|resume): the operator's token, recorded by name with each reason.
api: { operators: [{ name: ${DEMO_OPERATOR}, token: "\${VIGIL_OPERATOR_TOKEN}" }] }
activation: { urls: [${[s.activationUrl ?? `http://127.0.0.1:${s.ports.activation}`, ...(s.replicaUrls ?? [])].map((u) => `"${u}"`).join(', ')}], timeout: 5s }
alerts:
  webhooks:
    - { name: sink, url: "http://127.0.0.1:${s.ports.sink}/alerts", secret: "\${VIGIL_ALERT_SECRET}" }
monitors:
  - name: primary
    url: http://127.0.0.1:${s.ports.healthCheck}/health
    interval: ${s.interval}
    timeout: ${s.timeout}
    failureThreshold: ${s.failureThreshold}
    successThreshold: ${s.successThreshold}
    activate: { target: primary }
`;
}

/**
 * The activation service's config; with `s.coordination`, the config of replica `replica.index`
 * on `replica.port` (short lease timings, so that a test sees a takeover in seconds).
 */
export function activationConfig(s: DemoSettings, replica: { index: number; port: number } = { index: 0, port: s.ports.activation }): string {
  const coordination = s.coordination
    ? `replica: activation-${replica.index}
coordination: { kind: etcd, endpoints: [${s.coordination.endpoints.join(', ')}], prefix: ${s.coordination.prefix}, ttl: 2s, margin: 500ms, requestTimeout: 1s }
`
    : '';
  return `# Runs in the secondary region; fails over when a watchdog asks.
server: { host: 127.0.0.1, port: ${replica.port} }
dataDir: ${s.dataDir}/activation${replica.index === 0 ? '' : `-${replica.index}`}
${coordination}voters:
  - { id: watchdog-1, secret: "\${VIGIL_VOTER_SECRET}" }
# Approve, cancel, fail back, drill (vigil … or the console at /console).
operators:
  - { name: ${DEMO_OPERATOR}, token: "\${VIGIL_OPERATOR_TOKEN}" }
# The console shows the watchdog's monitors.
console: { watchdogs: ["http://127.0.0.1:${s.ports.watchdog}"] }
targets:
  - name: primary
    mode: ${s.approval ? 'approval' : 'auto'}
    rto: 60s
    failback:
      primaryHealthy:
        probe: { kind: http, url: "http://127.0.0.1:${s.ports.healthCheck}/health" }
        for: 4s
        interval: 1s
      plan:
        - { name: disable-standby, kind: http, method: POST, url: "http://127.0.0.1:${s.ports.standby}/admin/disable", timeout: 5s, retries: 2 }
    plan:
      - name: enable-standby
        kind: http
        method: POST
        url: http://127.0.0.1:${s.ports.standby}/admin/enable
        body: { reason: "primary region failed" }
        timeout: 5s
        retries: 2
`;
}
