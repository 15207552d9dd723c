import { TLSSocket } from 'node:tls';
import { checks, createHttpCheck, earliestExpiry, hostPort, maskSecrets, runHedged, secretsOf, type Check, type CheckConfig, type CheckResult, type HttpCheckConfig } from '@vigil/checks';
import { redactUrl } from '@vigil/core';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import type { MonitorConfig } from './config.js';

/** HTTP timing phases, as blackbox_exporter names them in probe_http_duration_seconds{phase}. */
export const HTTP_PHASES = ['resolve', 'connect', 'tls', 'processing', 'transfer'] as const;

/**
 * What one probe found: a probe is a check of `@vigil/checks`. Timing by phase (ms) and the
 * earliest certificate expiry (unix seconds) are reported by HTTP checks that measure them.
 */
export type ProbeResult = CheckResult;

/** How a probe spreads its attempts over its timeout (see `runHedged`); absent: one attempt. */
export interface ProbeHedging {
  attempts?: number;
  /** ms */
  hedgeDelay?: number;
}

/** What a monitor probes: the config of one of the check kinds a monitor can use (`kind`, its fields, `timeout` in ms) and its hedging. */
export type ProbeConfig = Extract<CheckConfig, { kind: MonitorConfig['kind'] }> & ProbeHedging;
export type ProbeKind = ProbeConfig['kind'];

/** Probes a target once. Honours `signal`; should not throw (the monitor guards against it anyway). */
export type Probe = (target: ProbeConfig, signal: AbortSignal) => Promise<ProbeResult>;

type ConfigOf<K extends ProbeKind> = Extract<ProbeConfig, { kind: K }>;
/** One entry per probe kind: a kind added to the monitor schema and missing here is a compile error. */
type ChecksByKind = { [K in ProbeKind]: Check<ConfigOf<K>> };
type TargetsByKind = { [K in ProbeKind]: (config: ConfigOf<K>) => string };

/** How each kind names what it probes, for people: credentials masked. */
const TARGETS = {
  http: (c) => redactUrl(c.url),
  tcp: (c) => hostPort(c.host, c.port),
  dns: (c) => c.host,
} satisfies TargetsByKind;

/** The target of a probe as people read it: the URL (credentials masked), host:port, or the name resolved. */
export function probeTarget(config: ProbeConfig): string {
  // As with the checks, TypeScript cannot correlate `config.kind` with the entry; the registry's type guarantees it.
  return (TARGETS[config.kind] as (c: ProbeConfig) => string)(config);
}

/** The earliest certificate expiry (unix seconds) last seen on a connection to a URL's origin. */
export type CertificateExpiries = (url: string) => number | undefined;

/**
 * The production probe: the monitor's check kind from `@vigil/checks`, run with its timeout and
 * hedged attempts, its secrets masked in the output. The first attempt of an HTTP probe goes over
 * `dispatcher` (kept-alive connections); later attempts open their own connection, so that they do
 * not wait behind the first one's retransmissions.
 */
export function createProbe(dispatcher: Dispatcher, certificates?: CertificateExpiries): Probe {
  const first = { http: pooledHttp(dispatcher, certificates), tcp: checks.tcp, dns: checks.dns } satisfies ChecksByKind;
  const fresh = { http: checks.http, tcp: checks.tcp, dns: checks.dns } satisfies ChecksByKind;
  return async (config, signal) => {
    // TypeScript cannot correlate `config.kind` with the registry entries; the registries' type guarantees it.
    const kind = (index: number) => (index === 0 ? first : fresh)[config.kind] as Check<ProbeConfig>;
    const policy = { timeoutMs: config.timeout, attempts: config.attempts ?? 1, hedgeDelayMs: config.hedgeDelay ?? config.timeout };
    const result = await runHedged((index, attempt) => kind(index).run(config, attempt), policy, signal);
    return result.output === undefined ? result : { ...result, output: maskSecrets(result.output, secretsOf(config)) };
  };
}

/**
 * The http check over the shared pool. A reused connection has no TLS handshake to measure, so
 * `certificates` supplies the expiry seen when it was opened. A monitor with its own TLS trust
 * (`tls.ca`, `tls.serverName`) opens a connection per probe instead: the pool trusts the system CAs.
 */
function pooledHttp(dispatcher: Dispatcher, certificates?: CertificateExpiries): Check<HttpCheckConfig> {
  const pooled = createHttpCheck(dispatcher);
  return {
    ...pooled,
    async run(config, signal) {
      if (config.tls) return checks.http.run(config, signal);
      const result = await pooled.run(config, signal);
      if (result.tlsEarliestCertExpiry !== undefined || !certificates || result.httpStatus === undefined) return result;
      const expiry = certificates(config.url);
      return expiry === undefined ? result : { ...result, tlsEarliestCertExpiry: expiry };
    },
  };
}

/**
 * The probes' shared undici pool: bounded kept-alive connections per origin, each replaced after
 * `connectionTtlMs` (default 1 minute) so that a renewed certificate is seen soon. Its connector
 * notes the earliest certificate expiry of each TLS connection it opens, by origin.
 */
export function probeAgent(
  options: { connections?: number; connectionTtlMs?: number; connect?: buildConnector.BuildOptions } = {},
): { agent: Agent; certificates: CertificateExpiries } {
  const expiries = new Map<string, number>();
  const connect = buildConnector(options.connect ?? {});
  const agent = new Agent({
    connections: options.connections ?? 4,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 60_000,
    clientTtl: options.connectionTtlMs ?? 60_000,
    connect: (opts, callback) =>
      connect(opts, (...args) => {
        const socket = args[1];
        if (socket instanceof TLSSocket) {
          const expiry = earliestExpiry(socket);
          if (expiry !== undefined) expiries.set(originKey(opts.protocol, opts.hostname, opts.port), expiry);
        }
        callback(...args);
      }),
  });
  const certificates: CertificateExpiries = (url) => {
    if (!URL.canParse(url)) return undefined;
    const { protocol, hostname, port } = new URL(url);
    return expiries.get(originKey(protocol, hostname, port));
  };
  return { agent, certificates };
}

function originKey(protocol: string, hostname: string, port: string): string {
  return `${protocol}//${hostname}:${port || (protocol === 'https:' ? '443' : '80')}`;
}
