import { styleText } from 'node:util';
import { stringify } from 'yaml';
import { formatDuration } from '@vigil/core/duration';

export type Format = 'table' | 'json' | 'yaml';
export const FORMATS: readonly Format[] = ['table', 'json', 'yaml'];

type Style = Parameters<typeof styleText>[0];

/** Where a command writes: data on `out` (stdout), everything else on `err` (stderr). */
export interface Streams {
  out: NodeJS.WritableStream & { isTTY?: boolean };
  err: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * Colours only through `node:util` styleText, and only when the stream is a terminal and
 * `NO_COLOR` is not set (https://no-color.org: any non-empty value).
 */
export function colourEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

export type Paint = (style: Style, text: string) => string;

export function painter(enabled: boolean): Paint {
  return enabled ? (style, text) => styleText(style, text, { validateStream: false }) : (_style, text) => text;
}

/** The whole of a command's data, in the format asked for; json and yaml end with a newline. */
export function render(format: Exclude<Format, 'table'>, data: unknown): string {
  return format === 'json' ? `${JSON.stringify(data, null, 2)}\n` : stringify(data, { lineWidth: 0 });
}

/** One event of a stream (`status --watch`): one JSON line, or one YAML document. */
export function renderEvent(format: Exclude<Format, 'table'>, data: unknown): string {
  return format === 'json' ? `${JSON.stringify(data)}\n` : `---\n${stringify(data, { lineWidth: 0 })}`;
}

/** Columns padded to their widest cell; the header is bold when colours are on. Cells may carry colour codes. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], paint: Paint = (_s, t) => t): string {
  const visible = (text: string) => stripAnsi(text).length;
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(Math.max(0, widths[i]! - visible(cell)))))
      .join('  ')
      .trimEnd();
  return [paint('bold', line(headers)), ...rows.map(line)].join('\n') + '\n';
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** "1m30s", "250ms"; "-" for nothing. */
export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  return ms < 0 ? `-${formatDuration(-ms)}` : formatDuration(ms);
}

/** How long ago a time was, rounded for a person: "4s ago", "3m12s ago"; "-" for nothing. */
export function age(iso: string | undefined, now: number): string {
  if (iso === undefined) return '-';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const ms = now - at;
  // Another machine's clock may be a little ahead: under a second is "now".
  if (ms < 0 && ms > -1_000) return '0s ago';
  if (ms < 0) return `in ${formatDuration(Math.round(-ms / 1000) * 1000 || -ms)}`;
  return `${ms < 1_000 ? '0s' : formatDuration(Math.round(ms / 1000) * 1000)} ago`;
}

/** "2026-12-03 19:23:39Z (4s ago)" — a time with its age. */
export function when(iso: string | undefined, now: number): string {
  if (iso === undefined) return '-';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  return `${new Date(at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')} (${age(iso, now)})`;
}

/** Elapsed time between two ISO times, or "-". */
export function between(start: string | undefined, end: string | undefined): number | undefined {
  if (start === undefined || end === undefined) return undefined;
  const ms = Date.parse(end) - Date.parse(start);
  return Number.isNaN(ms) ? undefined : ms;
}

/** One line of free text shortened for a table cell. */
export function short(text: string | undefined, max = 60): string {
  if (text === undefined || text === '') return '-';
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
