import { Etcd3, type IKeyValue, type Watcher } from 'etcd3';

/** How to reach etcd. Endpoints are URLs (`http://host:2379`; `https://` needs `tls`). */
export interface EtcdConnectionOptions {
  endpoints: string[];
  /** Deadline of every unary request (reads, writes, grants); streams have their own. */
  requestTimeoutMs?: number;
  auth?: { username: string; password: string };
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
}

/**
 * An etcd v3 client (gRPC, the `etcd3` package). Every unary call gets a deadline, so nothing
 * waits forever on a frozen member; the library retries a failed call on another member.
 */
export function connectEtcd(options: EtcdConnectionOptions): Etcd3 {
  const requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
  return new Etcd3({
    hosts: options.endpoints,
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.tls ? { credentials: { rootCertificate: options.tls.ca, privateKey: options.tls.key, certChain: options.tls.cert } } : {}),
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + requestTimeoutMs }),
    // gRPC pings find a dead connection under a long-lived watch; etcd accepts one every 5 s.
    grpcOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000 },
  });
}

/** A key as read from etcd; revisions stay strings (etcd int64). */
export interface StoredKey {
  key: string;
  value: string;
  createRevision: string;
  modRevision: string;
  version: string;
  lease: string;
}

export function toStoredKey(kv: IKeyValue): StoredKey {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: kv.create_revision,
    modRevision: kv.mod_revision,
    version: kv.version,
    lease: kv.lease,
  };
}

/** A linearizable read of one key. */
export async function readKey(etcd: Etcd3, key: string): Promise<{ kv: StoredKey | undefined; revision: string }> {
  const response = await etcd.kv.range({ key: Buffer.from(key) });
  const first = response.kvs[0];
  return { kv: first ? toStoredKey(first) : undefined, revision: response.header.revision };
}

/**
 * Resolves at the first change under `prefix` after `afterRevision`, after `maxWaitMs`, or when
 * `signal` aborts, whichever comes first; never rejects. Callers re-read the state afterwards, so
 * a watch that breaks or never starts (etcd unreachable) only costs them the wait.
 */
export function nextChange(etcd: Etcd3, prefix: string, afterRevision: string, maxWaitMs: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let watcher: Watcher | undefined;
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', settle);
      // Cancelling waits for etcd's answer, which may never come while it is unreachable.
      if (watcher) void watcher.cancel().catch(() => undefined);
      resolve();
    };
    const timer = setTimeout(settle, maxWaitMs);
    signal.addEventListener('abort', settle, { once: true });
    etcd
      .watch()
      .prefix(prefix)
      .startRevision((BigInt(afterRevision) + 1n).toString())
      .create()
      .then((created) => {
        watcher = created;
        // An 'error' event without a listener would throw; a broken watch just waits for the timer.
        created.on('error', () => undefined);
        created.on('put', settle);
        created.on('delete', settle);
        if (settled) void created.cancel().catch(() => undefined);
      })
      .catch(() => undefined);
  });
}

/** Sleeps `ms`, or less if `signal` aborts; never rejects. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
