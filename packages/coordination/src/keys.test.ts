import { describe, expect, it } from 'vitest';
import { candidateKey, electionPrefix, fencingEpochKey, incidentKey, prefixRangeEnd } from './keys.js';
import { validateTiming } from './session.js';

describe('key layout', () => {
  it('names a candidate after its lease in hex, like etcd’s Go election', () => {
    expect(candidateKey('/vigil/', 'activation', '7587822556486125056')).toBe('/vigil/leader/activation/694d5c69c20d4600');
    expect(electionPrefix('/vigil', 'activation')).toBe('/vigil/leader/activation/');
  });

  it('keeps a "/" in a target or incident id inside its own segment', () => {
    expect(incidentKey('/vigil', 'eu/primary', 'inc/1')).toBe('/vigil/targets/eu%2Fprimary/incidents/inc%2F1');
    expect(fencingEpochKey('/vigil', 'eu/primary')).toBe('/vigil/targets/eu%2Fprimary/epoch');
    expect(() => incidentKey('/vigil', '', 'x')).toThrow(/target must not be empty/);
  });

  it('ends a prefix range just after the last key with that prefix (byte order)', () => {
    expect(prefixRangeEnd('/a/')).toEqual(Buffer.from('/a0'));
    // 'ÿ' is c3 bf in UTF-8: the range ends at c3 c0.
    expect(prefixRangeEnd('aÿ')).toEqual(Buffer.from([0x61, 0xc3, 0xc0]));
  });
});

describe('lease timing', () => {
  it('accepts a margin up to half the TTL', () => {
    expect(() => validateTiming({ ttlSeconds: 10, marginMs: 2_000 })).not.toThrow();
    expect(() => validateTiming({ ttlSeconds: 2, marginMs: 1_000 })).not.toThrow();
  });

  it('refuses settings under which a leader could not renew before its own deadline', () => {
    expect(() => validateTiming({ ttlSeconds: 2, marginMs: 1_500 })).toThrow(/marginMs must be between 0 and TTL\/2/);
    expect(() => validateTiming({ ttlSeconds: 1.5, marginMs: 100 })).toThrow(/whole number/);
    expect(() => validateTiming({ ttlSeconds: 3, marginMs: 100, keepaliveTimeoutMs: 1_500 })).toThrow(/keepaliveTimeoutMs/);
  });
});
