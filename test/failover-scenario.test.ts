/**
 * The whole-system failover scenario (test/scenario/scenario.ts), run on local processes and,
 * where a container runtime exists, on containers built from the Dockerfiles with the
 * docker-compose configs.
 */
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { findEtcd, startEtcdCluster, type EtcdCluster } from '../packages/coordination/src/test-support/etcd-cluster.js';
import { findContainerRuntime, startContainers } from './scenario/containers.js';
import { startProcesses } from './scenario/processes.js';
import { failoverScenario, type Deployment } from './scenario/scenario.js';

let deployment: Deployment | undefined;
afterEach(async () => {
  await deployment?.stop();
  deployment = undefined;
});

describe('failover scenario on processes', () => {
  for (const mode of ['stopped', 'hanging'] as const) {
    it(`primary ${mode}: one activation, one firing and one resolved alert`, async () => {
      deployment = await startProcesses();
      await failoverScenario(deployment, mode);
    });
  }
});

const etcdBinary = findEtcd();
describe.skipIf(!etcdBinary)('failover scenario on 3 activation replicas and a 3-member etcd', () => {
  let cluster: EtcdCluster | undefined;
  beforeAll(async () => {
    cluster = await startEtcdCluster(etcdBinary!);
  });
  afterAll(() => cluster?.stop());
  for (const mode of ['stopped', 'hanging'] as const) {
    it(`primary ${mode}: one activation, one firing and one resolved alert`, async () => {
      deployment = await startProcesses(undefined, { endpoints: cluster!.endpoints, prefix: `/vigil-scenario-${mode}`, replicas: 3 });
      await failoverScenario(deployment, mode);
    });
  }
});

// No VIGIL_REQUIRE_COMPONENTS check here, on purpose: CI has no container runtime (no Docker
// engine, no Podman), so this run is a skip there, not a failure. The same scenario runs on
// processes above on every machine; this run adds the images, their HEALTHCHECKs and the
// compose configs wherever Docker or Podman is available.
const runtime = await findContainerRuntime();
if (!runtime.found) console.warn(`skipped: no container runtime found (${runtime.reason}): the container run of this scenario needs Docker or Podman`);
describe('failover scenario on containers', () => {
  const where = runtime.found ? runtime.description : 'needs Docker or Podman';
  it.skipIf(!runtime.found)(`primary stopped: one activation, one firing and one resolved alert (${where})`, async () => {
    deployment = await startContainers();
    await failoverScenario(deployment, 'stopped');
  }, 15 * 60_000);
});
