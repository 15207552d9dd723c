import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Logger } from '@vigil/core';
import type { ActivationConfig } from '../config.js';
import type { Coordination } from './coordination.js';
import { EtcdCoordination } from './etcd.js';
import { FileCoordination } from './file.js';

/** Request ids that created nothing only guard against replays; a day covers any sender's retries. */
const IDLE_REQUEST_RETENTION_MS = 24 * 3_600_000;

/** Reads one file the configuration names; the error says which setting and which file. */
function readConfigured(path: string, setting: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`${setting}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
}

/** Opens the backend the configuration selects; `campaign: false` never leads (a command's process, not a replica). */
export async function openCoordination(config: ActivationConfig, logger: Logger, now: () => number, options: { campaign?: boolean } = {}): Promise<Coordination> {
  const replica = config.replica ?? `${hostname()}-${process.pid}`;
  // Replays are refused anyway outside the signature tolerance: no need to remember ids longer than twice it.
  const idleRequestRetentionMs = Math.max(IDLE_REQUEST_RETENTION_MS, 2 * config.signatureTolerance);
  const c = config.coordination;
  if (c.kind === 'file') return FileCoordination.open({ dataDir: resolve(config.dataDir), replica, now, idleRequestRetentionMs });
  const coordination = await EtcdCoordination.open({
    connection: {
      endpoints: c.endpoints,
      requestTimeoutMs: c.requestTimeout,
      ...(c.auth && { auth: c.auth }),
      ...(c.tls && {
        tls: {
          ca: readConfigured(c.tls.ca, 'coordination.tls.ca'),
          ...(c.tls.cert !== undefined && { cert: readConfigured(c.tls.cert, 'coordination.tls.cert') }),
          ...(c.tls.key !== undefined && { key: readConfigured(c.tls.key, 'coordination.tls.key') }),
        },
      }),
    },
    prefix: c.prefix,
    replica,
    ttlSeconds: c.ttl / 1_000,
    marginMs: c.margin,
    now,
    idleRequestRetentionMs,
    logger,
    ...options,
  });
  logger.info({ replica, endpoints: c.endpoints, prefix: c.prefix, ttl: c.ttl, margin: c.margin }, 'coordinating through etcd');
  return coordination;
}
