import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Duration } from '@vigil/core';
import Type, { type StaticDecode } from 'typebox';
import type { Check, Measurement } from './check.js';
import { pass } from './outcome.js';

export const ProcessCheckConfig = Type.Object(
  {
    kind: Type.Literal('process'),
    measure: Type.Union([Type.Literal('eventLoopDelay'), Type.Literal('heapUsed')], {
      description: 'eventLoopDelay: p99 delay in ms since the previous run; heapUsed: % of the heap size limit',
    }),
    timeout: Duration({ default: '1s' }),
  },
  { additionalProperties: false },
);
export type ProcessCheckConfig = StaticDecode<typeof ProcessCheckConfig>;

const MEASUREMENTS: Record<ProcessCheckConfig['measure'], Measurement> = {
  eventLoopDelay: { name: 'eventLoopDelay', unit: 'ms', worse: 'higher' },
  heapUsed: { name: 'heapUsed', unit: '%', worse: 'higher' },
};

// One histogram for the process, started by the first event-loop check: a blocked loop delays
// every answer the service gives, so it is measured continuously, not only while checking.
let loopDelay: ReturnType<typeof monitorEventLoopDelay> | undefined;

/** The service's own process: how late its event loop runs, or how full its heap is. */
export const processCheck: Check<ProcessCheckConfig> = {
  kind: 'process',
  componentType: 'system',
  measurement: (config) => MEASUREMENTS[config.measure],
  run(config) {
    if (config.measure === 'heapUsed') {
      const heap = getHeapStatistics();
      const percent = (heap.used_heap_size / heap.heap_size_limit) * 100;
      const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;
      return Promise.resolve(
        pass(`heap ${mib(heap.used_heap_size)} of ${mib(heap.heap_size_limit)} (${percent.toFixed(1)}%)`, {
          observedValue: Math.round(percent * 100) / 100,
          observedUnit: '%',
        }),
      );
    }
    if (!loopDelay) {
      loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
    }
    // Nanoseconds; a histogram without samples yet (first run) reports no delay.
    const p99 = loopDelay.count > 0 ? loopDelay.percentile(99) / 1e6 : 0;
    const max = loopDelay.count > 0 ? loopDelay.max / 1e6 : 0;
    loopDelay.reset();
    return Promise.resolve(
      pass(`event-loop delay p99 ${p99.toFixed(1)}ms, max ${max.toFixed(1)}ms since the previous run`, {
        observedValue: Math.round(p99 * 100) / 100,
        observedUnit: 'ms',
      }),
    );
  },
};
