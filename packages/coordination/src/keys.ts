/**
 * The etcd key layout under a configured prefix. Segments that callers name (election, target,
 * incident) are URI-encoded so that a '/' inside one cannot move a key into another's place.
 */

function segment(value: string, what: string): string {
  if (value.length === 0) throw new RangeError(`${what} must not be empty`);
  return encodeURIComponent(value);
}

/** `/vigil/` and `/vigil` are the same prefix. */
export function normalizePrefix(prefix: string): string {
  return prefix.replace(/\/+$/, '');
}

/** Candidates of one election: `<prefix>/leader/<name>/`. */
export function electionPrefix(prefix: string, name: string): string {
  return `${normalizePrefix(prefix)}/leader/${segment(name, 'election name')}/`;
}

/** One candidate's key, named after its lease in hex like etcd's Go `concurrency.Election`. */
export function candidateKey(prefix: string, name: string, leaseId: string): string {
  return `${electionPrefix(prefix, name)}${BigInt(leaseId).toString(16)}`;
}

export function fencingEpochKey(prefix: string, target: string): string {
  return `${normalizePrefix(prefix)}/targets/${segment(target, 'target')}/epoch`;
}

export function incidentKey(prefix: string, target: string, incidentId: string): string {
  return `${normalizePrefix(prefix)}/targets/${segment(target, 'target')}/incidents/${segment(incidentId, 'incident id')}`;
}

/** The exclusive end of the key range holding every key that starts with `prefix`. */
export function prefixRangeEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    const byte = end[i]!;
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every byte 0xff: to the end of the keyspace
}
