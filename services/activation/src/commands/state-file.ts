import { readFileSync } from 'node:fs';
import Value from 'typebox/value';
import { CommandError, EXIT, writeFileAtomic } from '@vigil/core';
import { ExportedState, TxBuffer, keysOf, type ImportSummary } from '../coordination/coordination.js';
import { importInto, type ImportTarget } from '../coordination/import.js';

/** An import target that holds nothing and keeps nothing: running an import into it checks every document. */
const checkOnly: ImportTarget = {
  transact: (reads, change) => Promise.resolve(change(new TxBuffer(new Map(keysOf(reads).map((key) => [key, undefined]))))),
  existingAudit: () => Promise.resolve([]),
  appendAudit: () => Promise.resolve(),
};

/**
 * Reads an export (`vigil-activation export`, or a break-glass record) and checks all of it,
 * the envelope and every document in it, with the checks an import makes. Throws a CommandError
 * (exit 2) naming the file, the document and the field when anything is wrong.
 */
export async function readExport(path: string): Promise<{ state: ExportedState; contents: ImportSummary }> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CommandError(`${path}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`, EXIT.usage);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CommandError(`${path}: not JSON (${(error as Error).message}); expected an export of vigil-activation`, EXIT.usage);
  }
  const envelope = (typeof value === 'object' && value !== null ? value : {}) as { format?: unknown; version?: unknown };
  if (envelope.format !== 'vigil-activation-state') {
    throw new CommandError(`${path}: not an export of vigil-activation (/format is ${JSON.stringify(envelope.format) ?? 'missing'}, expected "vigil-activation-state")`, EXIT.usage);
  }
  if (envelope.version !== 1) {
    throw new CommandError(`${path}: an export of format version ${JSON.stringify(envelope.version) ?? '(none)'}; this version of vigil-activation reads version 1 (/version)`, EXIT.usage);
  }
  if (!Value.Check(ExportedState, value)) {
    const first = Value.Errors(ExportedState, value)[0];
    const where = first ? `${first.instancePath || '/'} ${first.message}` : 'unexpected shape';
    throw new CommandError(`${path}: not an export of vigil-activation (${where}); expected {"format": "vigil-activation-state", "version": 1, …}`, EXIT.usage);
  }
  try {
    return { state: value, contents: await importInto(checkOnly, value) };
  } catch (error) {
    throw new CommandError(`${path}: ${(error as Error).message}`, EXIT.usage);
  }
}

/** Writes an export as indented JSON: to `print` when `out` is `-`, else atomically to the file (mode 0600). */
export async function writeExport(state: ExportedState, out: string, print: (text: string) => Promise<void>): Promise<void> {
  const text = `${JSON.stringify(state, null, 2)}\n`;
  if (out === '-') await print(text);
  else await writeFileAtomic(out, text);
}
