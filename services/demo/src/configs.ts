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
}

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
targets:
  - name: primary
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
