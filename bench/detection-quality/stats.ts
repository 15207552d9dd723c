/**
 * What bench:detection-quality computes from measured probe sequences. Rare events (three failed
 * probes in a row at a few per mille each) cannot be counted in minutes of measurement, so false
 * activations per year come from a model fitted to the sequences, and the model is one that keeps
 * what independence would lose: runs.
 *
 * Model: each monitor's pass/fail sequence is a first-order Markov chain. From the measured
 * transitions, P(pass→fail) per probe and r = P(fail | previous fail). A monitor opens an incident
 * when a run of failures reaches the threshold N: incidents per probe = P(pass→fail) × r^(N−1).
 * The activation service's confirmation is one more probe after the N-th failure: × r again.
 * Where no two failures followed each other, r falls back to the failure rate (independence); r
 * is never taken below it.
 */

export interface Probe {
  sequence: number;
  startedAt: number;
  endedAt: number;
  ok: boolean;
  attempts: number;
}

export interface LossFigures {
  probes: number;
  failures: number;
  /** per-probe failure probability, with a 95% Wilson interval */
  p: number;
  pLow: number;
  pHigh: number;
  /** P(fail | previous fail) and the counts behind it */
  r: number;
  failFail: number;
  failAny: number;
  /** the longest run of failures seen */
  longestRun: number;
  meanAttempts: number;
  /** expected incidents (activation requests) per year of continuous condition */
  falsePerYear: number;
  /** the same, when the activation service's confirmation probe must fail too */
  falsePerYearConfirmed: number;
  /** true when no failure was seen: the figures are upper bounds from the Wilson interval */
  bound: boolean;
}

const YEAR_MS = 365 * 24 * 3600 * 1000;

/** 95% Wilson score interval for k successes in n trials. */
export function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const z = 1.96;
  const p = k / n;
  const denominator = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denominator;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Probes grouped by sequence, each in start order. */
function bySequence(probes: readonly Probe[]): Probe[][] {
  const groups = new Map<number, Probe[]>();
  for (const probe of probes) {
    const group = groups.get(probe.sequence) ?? [];
    group.push(probe);
    groups.set(probe.sequence, group);
  }
  return [...groups.values()].map((g) => g.sort((a, b) => a.startedAt - b.startedAt));
}

export function lossFigures(probes: readonly Probe[], threshold: number, intervalMs: number): LossFigures {
  let passFail = 0;
  let failFail = 0;
  let failAny = 0;
  let pairs = 0;
  let longestRun = 0;
  for (const sequence of bySequence(probes)) {
    let run = 0;
    sequence.forEach((probe, i) => {
      run = probe.ok ? 0 : run + 1;
      longestRun = Math.max(longestRun, run);
      const previous = sequence[i - 1];
      if (!previous) return;
      pairs++;
      if (!previous.ok) failAny++;
      if (!previous.ok && !probe.ok) failFail++;
      if (previous.ok && !probe.ok) passFail++;
    });
  }
  const failures = probes.filter((p) => !p.ok).length;
  const n = probes.length;
  const [pLow, pHigh] = wilson(failures, n);
  const bound = failures === 0;
  const p = bound ? pHigh : failures / n;
  const r = Math.max(p, failAny > 0 ? failFail / failAny : 0);
  const startRate = bound ? pHigh : pairs > 0 ? passFail / pairs : 0;
  const perProbe = startRate * r ** (threshold - 1);
  const probesPerYear = YEAR_MS / intervalMs;
  return {
    probes: n,
    failures,
    p,
    pLow,
    pHigh,
    r,
    failFail,
    failAny,
    longestRun,
    meanAttempts: n > 0 ? probes.reduce((sum, probe) => sum + probe.attempts, 0) / n : 0,
    falsePerYear: perProbe * probesPerYear,
    falsePerYearConfirmed: perProbe * r * probesPerYear,
    bound,
  };
}

/**
 * Failure → activation request, per sequence: from `failedAt` to the end of the probe that made the
 * threshold-th consecutive failure (probes that passed before the failure took effect reset the run).
 * Sequences that never reached it within the window count as missed.
 */
export function detectionTimes(probes: readonly Probe[], failedAt: number, threshold: number): { times: number[]; missed: number } {
  const times: number[] = [];
  let missed = 0;
  for (const sequence of bySequence(probes)) {
    let run = 0;
    let detected: number | undefined;
    for (const probe of sequence) {
      if (probe.endedAt <= failedAt) continue;
      run = probe.ok ? 0 : run + 1;
      if (run >= threshold) {
        detected = probe.endedAt - failedAt;
        break;
      }
    }
    if (detected === undefined) missed++;
    else times.push(detected);
  }
  return { times: times.sort((a, b) => a - b), missed };
}

export const median = (sorted: readonly number[]) => (sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)]!);
