import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Writes a file so that a crash leaves either the old or the new content: temp file, fsync, rename, fsync dir. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  const file = await open(temp, 'w', 0o600);
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/**
 * One JSON document persisted atomically. Reads are synchronous at start-up; saves are
 * serialised so that the file always holds the latest complete state.
 */
export class JsonFile<T> {
  private pending: Promise<void> = Promise.resolve();
  /** The write waiting for the one in progress, and the newest snapshot it will write. */
  private queued: { write: Promise<void>; text: string } | undefined;

  constructor(readonly path: string) {}

  /** The stored value, or undefined when there is none yet. A corrupt file is an error naming the file. */
  load(): T | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new Error(`state file ${this.path} is not valid JSON (${(err as Error).message}); move it aside to start afresh`, { cause: err });
    }
  }

  /**
   * Persists a snapshot; resolves once it (or a later one) is durable. Saves made while a write
   * is in progress are merged: only the newest snapshot is written next, since each snapshot
   * holds the whole state and so every earlier change.
   */
  save(value: T): Promise<void> {
    const text = `${JSON.stringify(value, null, 2)}\n`;
    if (this.queued) {
      this.queued.text = text;
      return this.queued.write;
    }
    const queued = { text, write: Promise.resolve() };
    queued.write = this.pending.then(() => {
      this.queued = undefined;
      return writeFileAtomic(this.path, queued.text);
    });
    this.queued = queued;
    this.pending = queued.write.catch(() => undefined);
    return queued.write;
  }
}

/** An append-only JSON-lines log (audit trails): each record is fsynced before the append resolves. */
export class AppendLog<T> {
  private pending: Promise<void> = Promise.resolve();
  /** Whether the file's end was looked at: a torn last line (crash mid-append) gets a newline before the first append. */
  private endChecked = false;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  append(record: T): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    const next = this.pending.then(async () => {
      const file = await open(this.path, 'a+', 0o600);
      try {
        let lead = '';
        if (!this.endChecked) {
          const { size } = await file.stat();
          if (size > 0) {
            const last = Buffer.alloc(1);
            await file.read(last, 0, 1, size - 1);
            if (last[0] !== 0x0a) lead = '\n';
          }
        }
        await file.appendFile(lead + line);
        await file.sync();
        this.endChecked = true;
      } finally {
        await file.close();
      }
    });
    this.pending = next.catch(() => undefined);
    return next;
  }

  /** Every complete record; a torn last line (crash mid-append) is ignored. */
  readAll(): T[] {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const records: T[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        records.push(JSON.parse(line) as T);
      } catch {
        // only the final line can be torn by a crash; skip it
      }
    }
    return records;
  }
}

