import type { Connection } from './http.js';
import type { Format, Paint, Streams } from './output.js';

/** What every command gets: where to connect, how to write, and the clock. */
export interface Context {
  connection: Connection;
  format: Format;
  streams: Streams;
  /** Colours for stdout (only in table output). */
  paint: Paint;
  /** Colours for stderr (progress, notes). */
  paintErr: Paint;
  env: NodeJS.ProcessEnv;
  now: () => number;
  /** Aborts on SIGINT/SIGTERM: a watch or a wait ends cleanly. */
  signal: AbortSignal;
  /** A note for the user on stderr (never on stdout: stdout is for data). */
  note(text: string): void;
  /** Writes data to stdout. */
  print(text: string): void;
}
