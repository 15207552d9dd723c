import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Header and field names whose values are secrets wherever they appear in a log line. */
const SECRET_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["webhook-signature"]',
  'headers.authorization',
  'headers["webhook-signature"]',
  '*.authorization',
  '*.secret',
  '*.secrets',
  '*.token',
  '*.password',
  '*.routingKey',
  'secret',
  'token',
  'password',
];

const SECRET_QUERY = /^(token|access_token|api_key|apikey|key|secret|signature|sig|password|auth|routing_key)$/i;

/** Masks credentials in a URL: the userinfo password and secret-looking query parameters. */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return raw;
  }
  if (url.password) url.password = 'REDACTED';
  for (const key of [...url.searchParams.keys()]) {
    if (SECRET_QUERY.test(key)) url.searchParams.set(key, 'REDACTED');
  }
  // Tokens embedded in the path (Slack-style webhook URLs) are masked after the first segment.
  if (/hooks\.slack\.com$/i.test(url.hostname)) url.pathname = url.pathname.replace(/^(\/services\/[^/]+)\/.*/, '$1/REDACTED');
  return url.toString();
}

export interface LoggerSettings {
  service: string;
  level?: string;
  /** Where lines go; defaults to stdout. */
  destination?: NodeJS.WritableStream;
}

/** JSON logs to stdout with secrets redacted; one `service` field on every line. */
export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? process.env.VIGIL_LOG_LEVEL ?? 'info',
    base: { service: settings.service },
    redact: { paths: SECRET_PATHS, censor: 'REDACTED' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  // Synchronous writes: the lines just before an exit or a crash are the ones an operator needs,
  // and an asynchronous buffer can lose or reorder them. Log volume here is low.
  const destination = settings.destination ?? pino.destination({ dest: 1, sync: true });
  return pino(options, destination as pino.DestinationStream);
}
