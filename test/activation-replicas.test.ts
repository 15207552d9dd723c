/**
 * Activation replicas on a real 3-member etcd cluster, as separate processes: exactly one
 * activation for a burst of requests spread over every replica; a leader killed or frozen
 * mid-plan is replaced within the lease and never runs a step after its deadline; with etcd
 * out of quorum nothing is activated, an alert says so, and everything resumes when it returns.
 *
 * Timings: lease TTL 2s, margin 500ms, etcd election timeout 500ms. A dead leader's lease ends at
 * most TTL after its last keepalive (2s); the next candidate sees its key go through a watch (or
 * a look every TTL/4), then reads the unfinished activations: about 2.5s. The bounds below allow
 * 8s for it on a loaded machine.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activation, ActiveSide } from '@vigil/core';
import { freePort, startService, waitFor, type ServiceProcess } from '@vigil/demo';
import { findEtcd, startEtcdCluster, type EtcdCluster } from '../packages/coordination/src/test-support/etcd-cluster.js';
import { activationRequest, fakeEndpoint, SECRET_1, signed } from '../services/activation/src/test-support/fixtures.js';

const TAKEOVER_BOUND_MS = 8_000;
const etcdBinary = findEtcd();
type Endpoint = Awaited<ReturnType<typeof fakeEndpoint>>;

interface Replica {
  name: string;
  base: string;
  service: ServiceProcess;
}

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

let cluster: EtcdCluster;
beforeAll(async () => {
  if (!etcdBinary) return;
  cluster = await startEtcdCluster(etcdBinary);
  cleanup.push(() => cluster.stop());
});

/** A standby whose paths ending in /hold hang until released (a step held in flight); `/hold-once` hangs only on its first call. */
async function standby(): Promise<Endpoint & { release(): void; calls_(path: string): number }> {
  let released = false;
  const endpoint = await fakeEndpoint((n, req, res) => {
    if (req.url.endsWith('/hold') && !released) return;
    if (req.url.endsWith('/hold-once') && !released && endpoint.calls.filter((c) => c.url === req.url).length === 1) return;
    res.end('ok');
  });
  return { ...endpoint, release: () => (released = true), calls_: (path) => endpoint.calls.filter((c) => c.url === path).length };
}

async function startReplicas(count: number, targets: string, options: { prefix: string; sink: Endpoint }): Promise<Replica[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-replicas-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const replicas: Replica[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const name = `replica-${i}`;
    const configPath = join(dir, `${name}.yaml`);
    writeFileSync(
      configPath,
      `server: { host: 127.0.0.1, port: ${port} }
replica: ${name}
dataDir: ${dir}/${name}
coordination:
  kind: etcd
  endpoints: [${cluster.endpoints.join(', ')}]
  prefix: ${options.prefix}
  ttl: 2s
  margin: 500ms
  requestTimeout: 1s
voters: [{ id: watchdog-1, secret: "\${VOTER_1}" }]
alerts: { webhooks: [{ name: sink, url: "${options.sink.url}/alerts", secret: "\${VOTER_1}" }] }
targets:
${targets}`,
    );
    const service = startService('activation', configPath, { env: { VOTER_1: SECRET_1 } });
    cleanup.push(() => service.stop('SIGKILL'));
    replicas.push({ name, base: `http://127.0.0.1:${port}`, service });
  }
  for (const replica of replicas) {
    await waitFor(`${replica.name} to be ready`, async () => {
      if (replica.service.child.exitCode !== null) throw new Error(`${replica.name} exited: ${replica.service.lines.join('\n')}`);
      return (await fetch(`${replica.base}/readyz`)).ok;
    });
  }
  return replicas;
}

/** The replica that reports leading (its metric), among those given. */
async function leaderAmong(replicas: readonly Replica[]): Promise<Replica> {
  return waitFor('one replica to lead', async () => {
    const leading: Replica[] = [];
    for (const replica of replicas) {
      const metrics = await (await fetch(`${replica.base}/metrics`)).text().catch(() => '');
      if (/^vigil_activation_leader 1$/m.test(metrics)) leading.push(replica);
    }
    return leading.length === 1 ? leading[0] : undefined;
  });
}

async function post(replica: Replica, body: unknown, options: { id?: string } = {}) {
  const { payload, headers } = signed(body, options);
  const res = await fetch(`${replica.base}/v1/activations`, { method: 'POST', headers, body: payload });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Activation & { error?: string } };
}

async function get<T>(replica: Replica, path: string): Promise<T> {
  return (await (await fetch(`${replica.base}${path}`)).json()) as T;
}

const request = (target: string, incident = `inc-${target}`) => activationRequest({ target, incident: { ...activationRequest().incident, id: incident } });

describe.skipIf(!etcdBinary)('activation replicas on etcd', () => {
  it('100 concurrent identical and distinct requests for one incident over 3 replicas: one activation, epoch 1, each step once', async () => {
    const standbyEndpoint = await standby();
    const sink = await fakeEndpoint();
    cleanup.push(() => standbyEndpoint.close(), () => sink.close());
    const replicas = await startReplicas(
      3,
      `  - name: burst
    holdOff: { enabled: false }
    plan:
      - { name: enable, kind: http, url: "${standbyEndpoint.url}/burst/enable" }
      - { name: switch, kind: fence, url: "${standbyEndpoint.url}/burst/switch" }`,
      { prefix: '/vigil-burst', sink },
    );
    const body = request('burst');
    // 50 copies of one delivery (same id, same signature) and 50 distinct request ids, each to a replica in turn.
    const copy = signed(body, { id: 'msg_same' });
    const sends = Array.from({ length: 100 }, (_, i) => {
      const replica = replicas[i % replicas.length]!;
      if (i % 2 === 0) {
        return fetch(`${replica.base}/v1/activations`, { method: 'POST', headers: copy.headers, body: copy.payload }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: string; id?: string } }));
      }
      return post(replica, body, { id: `msg_${i}` });
    });
    const answers = await Promise.all(sends);
    const created = answers.filter((a) => a.status === 202);
    expect(created).toHaveLength(1);
    for (const answer of answers) {
      // 200: a copy answered with the activation it created; 401: a replayed copy; 409: the target is held.
      expect([200, 202, 401, 409], JSON.stringify(answer)).toContain(answer.status);
    }
    const id = created[0]!.body.id!;
    await waitFor('the plan to succeed', async () => (await get<Activation>(replicas[0]!, `/v1/activations/${id}`)).status === 'succeeded');
    for (const replica of replicas) {
      const listed = await get<{ activations: Activation[] }>(replica, '/v1/activations?target=burst');
      expect(listed.activations.map((a) => a.id)).toEqual([id]);
      expect(await get<ActiveSide>(replica, '/v1/active?target=burst')).toMatchObject({ active: 'secondary', epoch: 1, activationId: id });
      // Metrics show the last state each replica saw, kept by the watch whoever wrote it.
      await waitFor(`${replica.name}'s metrics to show the new side`, async () => {
        const metrics = await (await fetch(`${replica.base}/metrics`)).text();
        return metrics.includes('vigil_activation_epoch{target="burst"} 1') && metrics.includes('vigil_active_side{target="burst",side="secondary"} 1');
      });
    }
    expect(standbyEndpoint.calls_('/burst/enable')).toBe(1);
    expect(standbyEndpoint.calls_('/burst/switch')).toBe(1);
    expect(standbyEndpoint.calls.find((c) => c.url === '/burst/switch')?.headers['x-vigil-fencing-epoch']).toBe('1');
  });

  it('a leader SIGKILLed mid-plan is replaced within the lease: the non-idempotent plan is interrupted and paged, the idempotent one resumes', async () => {
    const standbyEndpoint = await standby();
    const sink = await fakeEndpoint();
    cleanup.push(() => standbyEndpoint.close(), () => sink.close());
    const plan = (target: string, idempotent: boolean) => `  - name: ${target}
    holdOff: { enabled: false }
    plan:
      - { name: enable, kind: http, url: "${standbyEndpoint.url}/${target}/enable" }
      - { name: switch, kind: http, url: "${standbyEndpoint.url}/${target}/hold", timeout: 60s, idempotent: ${idempotent} }
      - { name: announce, kind: http, url: "${standbyEndpoint.url}/${target}/announce" }
`;
    const replicas = await startReplicas(3, plan('once-only', false) + plan('repeatable', true), { prefix: '/vigil-kill', sink });
    const leader = await leaderAmong(replicas);
    const others = replicas.filter((r) => r !== leader);
    // Requests go to a replica that does not lead: it claims, the leader runs.
    const onceOnly = (await post(others[0]!, request('once-only'))).body;
    const repeatable = (await post(others[1]!, request('repeatable'))).body;
    await waitFor('both held steps in flight', () => standbyEndpoint.calls_('/once-only/hold') === 1 && standbyEndpoint.calls_('/repeatable/hold') === 1);

    const killedAt = performance.now();
    leader.service.child.kill('SIGKILL');
    await leader.service.exited;
    standbyEndpoint.release();
    const next = await leaderAmong(others);
    await waitFor('the interrupted plan to be recorded', async () => (await get<Activation>(next, `/v1/activations/${onceOnly.id}`)).status === 'interrupted', TAKEOVER_BOUND_MS + 5_000);
    const takeoverMs = performance.now() - killedAt;
    expect(takeoverMs).toBeLessThan(TAKEOVER_BOUND_MS);
    await waitFor('the resumed plan to succeed', async () => (await get<Activation>(next, `/v1/activations/${repeatable.id}`)).status === 'succeeded');

    expect(standbyEndpoint.calls_('/once-only/hold')).toBe(1);
    expect(standbyEndpoint.calls_('/once-only/announce')).toBe(0);
    expect(standbyEndpoint.calls_('/repeatable/hold')).toBe(2);
    expect(standbyEndpoint.calls_('/repeatable/announce')).toBe(1);
    const interrupted = await get<Activation>(next, `/v1/activations/${onceOnly.id}`);
    expect(interrupted.reason).toContain('switch, which is not idempotent');
    expect(await get<ActiveSide>(next, '/v1/active?target=once-only')).toEqual({ target: 'once-only', active: 'primary', epoch: 1, revision: 1, activationId: onceOnly.id });
    await waitFor('the interruption page', () => sink.calls.some((c) => c.body.includes(`${onceOnly.id} was interrupted`)));
  });

  it('a leader SIGSTOPped past its TTL starts no step after its deadline, and its late writes change nothing', async () => {
    const standbyEndpoint = await standby();
    const sink = await fakeEndpoint();
    cleanup.push(() => standbyEndpoint.close(), () => sink.close());
    const replicas = await startReplicas(
      3,
      `  - name: paced
    holdOff: { enabled: false }
    plan:
      - { name: one, kind: fence, url: "${standbyEndpoint.url}/paced/hold-once", timeout: 60s, idempotent: true }
      - { name: two, kind: fence, url: "${standbyEndpoint.url}/paced/two" }
      - { name: three, kind: fence, url: "${standbyEndpoint.url}/paced/three" }`,
      { prefix: '/vigil-stop', sink },
    );
    const leader = await leaderAmong(replicas);
    const others = replicas.filter((r) => r !== leader);
    const created = (await post(others[0]!, request('paced'))).body;
    await waitFor('step one in flight on the leader', () => standbyEndpoint.calls_('/paced/hold-once') === 1);

    leader.service.child.kill('SIGSTOP');
    const next = await leaderAmong(others);
    await waitFor('the new leader to finish the plan', async () => (await get<Activation>(next, `/v1/activations/${created.id}`)).status === 'succeeded', TAKEOVER_BOUND_MS + 5_000);
    // The frozen leader's step one now has its answer waiting; it wakes long past its deadline.
    standbyEndpoint.release();
    const linesBefore = leader.service.lines.length;
    leader.service.child.kill('SIGCONT');
    await waitFor('the old leader to notice it no longer leads', () =>
      leader.service.lines.slice(linesBefore).some((l) => l.includes('no longer leads') || l.includes('stopped driving an activation')),
    );

    // History: every step start carries epoch 1; step two and three ran once, from the new leader only.
    const epochs = standbyEndpoint.calls.filter((c) => c.url.startsWith('/paced/')).map((c) => [c.url, c.headers['x-vigil-fencing-epoch']]);
    expect(epochs).toEqual([
      ['/paced/hold-once', '1'],
      ['/paced/hold-once', '1'],
      ['/paced/two', '1'],
      ['/paced/three', '1'],
    ]);
    const activation = await get<Activation>(next, `/v1/activations/${created.id}`);
    expect(activation.steps.map((s) => [s.name, s.status])).toEqual([
      ['one', 'failed'],
      ['one', 'succeeded'],
      ['two', 'succeeded'],
      ['three', 'succeeded'],
    ]);
    const audit = await get<{ records: { event: string; step?: { name: string } }[] }>(next, `/v1/activations/${created.id}/audit`);
    expect(audit.records.filter((r) => r.event === 'step-started').map((r) => r.step?.name)).toEqual(['one', 'one', 'two', 'three']);
    expect(audit.records.filter((r) => r.event === 'activation-finished')).toHaveLength(1);
    // At most one claim of the incident, epochs never decreasing.
    expect(await get<ActiveSide>(next, '/v1/active?target=paced')).toMatchObject({ active: 'secondary', epoch: 1, activationId: created.id });
  });

  it('etcd without quorum: 503 with Retry-After, no activation, a critical alert; all resumes when etcd returns', async () => {
    const standbyEndpoint = await standby();
    const sink = await fakeEndpoint();
    cleanup.push(() => standbyEndpoint.close(), () => sink.close());
    const replicas = await startReplicas(
      2,
      `  - name: guarded
    holdOff: { enabled: false }
    plan:
      - { name: enable, kind: http, url: "${standbyEndpoint.url}/guarded/enable" }`,
      { prefix: '/vigil-quorum', sink },
    );
    await leaderAmong(replicas);
    // One member down: a quorum remains, nothing changes.
    await cluster.members[2]!.kill();
    await cluster.waitHealthy();
    const metrics = async (replica: Replica) => (await fetch(`${replica.base}/metrics`)).text();
    expect(await metrics(replicas[0]!)).toMatch(/^vigil_coordination_reachable 1$/m);

    // Two of three down: the member left is a minority; then none at all.
    await cluster.members[1]!.kill();
    const refused = await post(replicas[0]!, request('guarded'));
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('1');
    expect(refused.body.error).toBe('coordination-unavailable');
    await waitFor('the coordination alert', () => sink.calls.some((c) => c.body.includes('cannot reach etcd') && c.body.includes('"firing"')), 10_000);
    expect(await metrics(replicas[1]!)).toMatch(/^vigil_coordination_reachable 0$/m);
    await cluster.members[0]!.kill();
    expect((await post(replicas[1]!, request('guarded'))).status).toBe(503);
    expect(standbyEndpoint.calls).toHaveLength(0);

    // Members come back together: none is healthy alone.
    await Promise.all(cluster.members.map((member) => member.restart()));
    await cluster.waitHealthy();
    await waitFor('the alert to resolve', () => sink.calls.some((c) => c.body.includes('reaches etcd again') && c.body.includes('"resolved"')), 15_000);
    const accepted = await waitFor('a request to be taken again', async () => {
      const answer = await post(replicas[0]!, request('guarded'));
      return answer.status === 202 ? answer.body : undefined;
    }, 15_000, 500);
    await waitFor('the plan to succeed', async () => (await get<Activation>(replicas[1]!, `/v1/activations/${accepted.id}`)).status === 'succeeded', 15_000);
    expect(standbyEndpoint.calls_('/guarded/enable')).toBe(1);
  });
});
