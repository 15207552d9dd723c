import { describe, expect, it } from 'vitest';
import { detailAccess } from './access.js';

const token = 'a-long-enough-token-123';

describe('detailAccess', () => {
  it('gives every caller the anonymous level when no token is configured', () => {
    expect(detailAccess({ anonymous: 'full' })(undefined)).toBe('full');
    expect(detailAccess({ anonymous: 'names' })(`Bearer ${token}`)).toBe('names');
  });

  it('gives the bearer of the token everything, and anyone else the anonymous level', () => {
    const access = detailAccess({ token, anonymous: 'status' });
    expect(access(`Bearer ${token}`)).toBe('full');
    expect(access(`bearer ${token}`)).toBe('full');
    expect(access(undefined)).toBe('status');
    expect(access('Bearer wrong')).toBe('status');
    expect(access(`Basic ${token}`)).toBe('status');
    expect(detailAccess({ token, anonymous: 'names' })('Bearer wrong')).toBe('names');
  });
});
