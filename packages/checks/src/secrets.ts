/** Keys whose values are secrets wherever they appear in a check's configuration. */
const SECRET_KEY = /secret|token|password|passphrase|authorization|apikey|api_key|credential|cookie/i;

const cache = new WeakMap<object, string[]>();

/**
 * Every secret a check's configuration holds: values under secret-looking keys (headers included)
 * and, for each URL-like string, its password and the whole string (connection strings carry
 * passwords). Longest first, so that masking a URL wins over masking its password within it.
 */
export function secretsOf(config: object): string[] {
  let found = cache.get(config);
  if (found) return found;
  const secrets = new Set<string>();
  const visit = (value: unknown, key: string) => {
    if (typeof value === 'string') {
      if (SECRET_KEY.test(key) && value.length >= 3) secrets.add(value);
      const password = urlPassword(value);
      if (password) {
        secrets.add(password);
        secrets.add(decodeURIComponent(password));
        secrets.add(value);
      }
    } else if (Array.isArray(value)) {
      value.forEach((item) => visit(item, key));
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) visit(v, k);
    }
  };
  visit(config, '');
  found = [...secrets].sort((a, b) => b.length - a.length);
  cache.set(config, found);
  return found;
}

function urlPassword(value: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(value) || !URL.canParse(value)) return undefined;
  return new URL(value).password || undefined;
}

/** The text with every secret replaced by REDACTED. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let masked = text;
  for (const secret of secrets) if (masked.includes(secret)) masked = masked.replaceAll(secret, 'REDACTED');
  return masked;
}
