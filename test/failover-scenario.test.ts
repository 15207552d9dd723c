/**
 * The whole-system failover scenario (test/scenario/scenario.ts), run on local processes and on
 * containers of the images built from the Dockerfile, with the docker-compose configs.
 */
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { findEtcd, startEtcdCluster, type EtcdCluster } from '../packages/coordination/src/test-support/etcd-cluster.js';
import { composeTiming, CONTAINER_SLACK_MS, startContainers, STARTUP_TIMEOUT_MS } from './scenario/containers.js';
import { startProcesses } from './scenario/processes.js';
import { failoverScenario, scenarioDurationMs, type Deployment } from './scenario/scenario.js';
import { BUILD_ALL_TIMEOUT_MS, buildImages, findEngine } from './support/engine.js';

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

const engine = await findEngine();
describe.skipIf(!engine)(`failover scenario on containers (${engine ?? 'needs Docker or Podman'})`, () => {
  beforeAll(async () => {
    await buildImages();
  }, BUILD_ALL_TIMEOUT_MS);

  for (const mode of ['stopped', 'hanging'] as const) {
    it(`primary ${mode}: one activation, one firing and one resolved alert`, async () => {
      deployment = await startContainers();
      await failoverScenario(deployment, mode);
    }, 6 * STARTUP_TIMEOUT_MS + scenarioDurationMs(composeTiming(), CONTAINER_SLACK_MS));
  }
});
