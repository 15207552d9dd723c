import type { Dispatcher, Pool } from 'undici';
import { VigilConfigError } from './errors.js';
import type { Side } from './state.js';

/** Where a target's traffic goes on each side: origins such as `https://shop.eu.example`. */
export interface TargetOrigins {
  primary: string;
  secondary: string;
}

export interface VigilClientOptions {
  /** The activation service: one URL per replica or region, tried in turn when one does not answer. */
  activation: string | readonly string[];
  /**
   * The targets this application follows, by the activation service's target name. A request
   * whose origin is either side's origin is sent to the active side; other requests pass as they are.
   */
  targets: Readonly<Record<string, TargetOrigins>>;
  /** Subscribe to `GET /v1/active/stream` (default true); the poll runs either way. */
  stream?: boolean;
  /** Slow poll of `GET /v1/active`, in case a push is lost; ±20% jitter. Default 30 s. */
  pollIntervalMs?: number;
  /** Event-stream reconnect delay: doubles from min to max per failed attempt, each drawn from [½, 1] of it. Defaults 250 ms and 10 s. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Deadline of each request to the activation service (poll, re-check, stream headers). Default 2 s. */
  requestTimeoutMs?: number;
  /** An event stream silent this long is dropped and opened again; the server sends a comment every 15 s. Default 40 s. */
  streamIdleTimeoutMs?: number;
  /** No confirmed state for this long emits `stale` (the last state is kept). Default 60 s. */
  staleAfterMs?: number;
  /** How long a request waits for a switch under way, or for the first state. Default 5 s. */
  switchTimeoutMs?: number;
  /** At most one re-check per target in this time, however many requests fail. Default 1 s. */
  recheckIntervalMs?: number;
  /** After a switch, requests still waiting for the old side's answer this long are cut (and repeated on the new side when safe). Default 1 s. */
  drainTimeoutMs?: number;
  /** Requests waiting for a switch or a first state at once, beyond which new ones fail at once. Default 10,000. */
  maxWaiting?: number;
  /**
   * The side to use while no state has ever been received (the activation service unreachable at
   * start), stamped with epoch 0 so that fenced servers that know better refuse it. Unset: such
   * requests fail with `VIGIL_NO_STATE` after `switchTimeoutMs`.
   */
  fallbackSide?: Side;
  /** Headers sent to the activation service (e.g. `authorization` for a reader token). */
  headers?: Readonly<Record<string, string>>;
  /** Options of each side's connection pool (a new pool per switch). */
  pool?: Pool.Options;
  /** Dispatcher for the requests to the activation service (default: the client's own). */
  controlPlane?: Dispatcher;
}

export interface ResolvedOptions {
  activation: string[];
  targets: Map<string, { primary: string; secondary: string }>;
  stream: boolean;
  pollIntervalMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  requestTimeoutMs: number;
  streamIdleTimeoutMs: number;
  staleAfterMs: number;
  switchTimeoutMs: number;
  recheckIntervalMs: number;
  drainTimeoutMs: number;
  maxWaiting: number;
  fallbackSide: Side | undefined;
  headers: Record<string, string>;
  pool: Pool.Options;
  controlPlane: Dispatcher | undefined;
}

const DURATIONS = {
  pollIntervalMs: 30_000,
  reconnectMinMs: 250,
  reconnectMaxMs: 10_000,
  requestTimeoutMs: 2_000,
  streamIdleTimeoutMs: 40_000,
  staleAfterMs: 60_000,
  switchTimeoutMs: 5_000,
  recheckIntervalMs: 1_000,
  drainTimeoutMs: 1_000,
} as const;

function httpOrigin(value: unknown, where: string, problems: string[]): string {
  if (typeof value !== 'string' || value === '') {
    problems.push(`${where}: expected a URL such as "https://app.example", got ${JSON.stringify(value)}`);
    return '';
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${where}: "${value}" is not a URL`);
    return '';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(`${where}: "${value}" must be http or https`);
  return url.origin;
}

/** Checks every option and names each problem (not only the first); the defaults fill the rest. */
export function resolveOptions(options: VigilClientOptions): ResolvedOptions {
  const problems: string[] = [];
  const urls = typeof options.activation === 'string' ? [options.activation] : [...(options.activation ?? [])];
  if (urls.length === 0) problems.push('activation: give at least one activation-service URL');
  const activation = urls.map((u, i) => {
    httpOrigin(u, `activation[${i}]`, problems);
    return String(u).replace(/\/+$/, '');
  });

  const targets = new Map<string, { primary: string; secondary: string }>();
  const owners = new Map<string, string>();
  const entries = Object.entries(options.targets ?? {});
  if (entries.length === 0) problems.push('targets: name at least one target with its primary and secondary origins');
  for (const [name, origins] of entries) {
    const primary = httpOrigin(origins?.primary, `targets.${name}.primary`, problems);
    const secondary = httpOrigin(origins?.secondary, `targets.${name}.secondary`, problems);
    if (primary && primary === secondary) problems.push(`targets.${name}: primary and secondary are the same origin (${primary})`);
    for (const origin of [primary, secondary]) {
      const owner = owners.get(origin);
      if (origin && owner !== undefined && owner !== name) problems.push(`targets.${name}: origin ${origin} already belongs to target "${owner}"; a request could not tell which to follow`);
      owners.set(origin, name);
    }
    targets.set(name, { primary, secondary });
  }

  const durations = {} as Record<keyof typeof DURATIONS, number>;
  for (const [key, fallback] of Object.entries(DURATIONS) as [keyof typeof DURATIONS, number][]) {
    const value = options[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) problems.push(`${key}: expected milliseconds ≥ 0, got ${JSON.stringify(value)}`);
    durations[key] = value;
  }
  if (durations.pollIntervalMs < 100) problems.push(`pollIntervalMs: ${durations.pollIntervalMs} ms would hammer the activation service; use 100 ms or more`);
  if (durations.reconnectMinMs < 10) problems.push(`reconnectMinMs: use 10 ms or more (got ${durations.reconnectMinMs})`);
  if (durations.reconnectMaxMs < durations.reconnectMinMs) problems.push(`reconnectMaxMs (${durations.reconnectMaxMs}) is below reconnectMinMs (${durations.reconnectMinMs})`);
  if (durations.requestTimeoutMs < 1) problems.push('requestTimeoutMs: must be above 0');
  const maxWaiting = options.maxWaiting ?? 10_000;
  if (!Number.isInteger(maxWaiting) || maxWaiting < 0) problems.push(`maxWaiting: expected a whole number ≥ 0, got ${JSON.stringify(maxWaiting)}`);
  if (options.fallbackSide !== undefined && options.fallbackSide !== 'primary' && options.fallbackSide !== 'secondary') {
    problems.push(`fallbackSide: expected "primary" or "secondary", got ${JSON.stringify(options.fallbackSide)}`);
  }
  if (problems.length > 0) throw new VigilConfigError(`invalid @vigil/client options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);

  return {
    activation,
    targets,
    stream: options.stream ?? true,
    ...durations,
    maxWaiting,
    fallbackSide: options.fallbackSide,
    headers: { ...options.headers },
    pool: options.pool ?? {},
    controlPlane: options.controlPlane,
  };
}
