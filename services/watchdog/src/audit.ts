import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AppendLog, Type, type Logger, type Static } from '@vigil/core';
import Value from 'typebox/value';

export const AuditRecord = Type.Object({
  time: Type.String(),
  event: Type.Union([Type.Literal('paused'), Type.Literal('resumed'), Type.Literal('pause-expired')]),
  monitor: Type.String(),
  operator: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
  until: Type.Optional(Type.String()),
});
export type AuditRecord = Static<typeof AuditRecord>;

/** Records kept in memory for queries; the file keeps every record. */
export const AUDIT_MEMORY = 5_000;
/** Records one query answers at most. */
export const AUDIT_QUERY_MAX = 1_000;

export interface AuditQuery {
  monitor?: string | undefined;
  /** only records at or after this time (ms) */
  sinceMs?: number | undefined;
  limit?: number | undefined;
}

/**
 * The watchdog's audit log, `dataDir/audit.jsonl`: one JSON line per operator action (pause,
 * resume) and per pause that expired, appended through core's `AppendLog` (fsynced; a torn last
 * line gets a newline first). At start the
 * last `AUDIT_MEMORY` records are read back for queries; a line that is not a record (a torn last
 * line after a crash, an edit by hand) is skipped with a warning.
 */
export class AuditLog {
  readonly path: string;
  private readonly recent: AuditRecord[] = [];
  private readonly file: AppendLog<AuditRecord>;

  private constructor(
    dataDir: string,
    private readonly logger: Logger,
  ) {
    this.path = join(dataDir, 'audit.jsonl');
    this.file = new AppendLog<AuditRecord>(this.path);
  }

  static async open(dataDir: string, logger: Logger): Promise<AuditLog> {
    const log = new AuditLog(dataDir, logger);
    await log.readBack();
    return log;
  }

  /** Appends one record durably (fsync) and keeps it for queries. */
  async append(record: AuditRecord): Promise<void> {
    await this.file.append(record);
    this.remember(record);
  }

  /** Matching records, oldest first, the newest `limit` of them (at most `AUDIT_QUERY_MAX`). */
  query({ monitor, sinceMs, limit = AUDIT_QUERY_MAX }: AuditQuery = {}): AuditRecord[] {
    const max = Math.max(0, Math.min(limit, AUDIT_QUERY_MAX));
    const found: AuditRecord[] = [];
    for (let i = this.recent.length - 1; i >= 0 && found.length < max; i--) {
      const r = this.recent[i]!;
      if (monitor !== undefined && r.monitor !== monitor) continue;
      if (sinceMs !== undefined && Date.parse(r.time) < sinceMs) break; // appended in time order
      found.push(r);
    }
    return found.reverse();
  }

  private remember(record: AuditRecord): void {
    this.recent.push(record);
    if (this.recent.length > AUDIT_MEMORY * 1.2) this.recent.splice(0, this.recent.length - AUDIT_MEMORY);
  }

  private async readBack(): Promise<void> {
    try {
      await access(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    // Streamed: the file grows without bound, memory does not.
    const lines = createInterface({ input: createReadStream(this.path, 'utf8'), crlfDelay: Infinity });
    let number = 0;
    let skipped = 0;
    for await (const line of lines) {
      number++;
      if (line.trim() === '') continue;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        record = undefined;
      }
      if (!Value.Check(AuditRecord, record)) {
        skipped++;
        this.logger.warn({ file: this.path, line: number }, 'skipping an audit log line that is not a record');
        continue;
      }
      this.remember(record);
    }
    if (this.recent.length > AUDIT_MEMORY) this.recent.splice(0, this.recent.length - AUDIT_MEMORY);
    if (skipped > 0) this.logger.warn({ file: this.path, skipped }, 'audit log lines skipped');
  }
}
