/** Durations as written in configuration: "250ms", "10s", "5m", "1h", or compound "1m30s". */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

export const DURATION_PATTERN = '^(\\d+(\\.\\d+)?(ms|s|m|h|d))+$';
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const WHOLE = new RegExp(DURATION_PATTERN);

/** Parses a duration to milliseconds; returns undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!WHOLE.test(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(PART)) ms += Number(amount) * UNIT_MS[unit as Unit];
  return Math.round(ms);
}

/** Formats milliseconds the way a person would write them in config ("1m30s", "250ms"). */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const unit of ['h', 'm', 's'] as const) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * UNIT_MS[unit];
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join('');
}
