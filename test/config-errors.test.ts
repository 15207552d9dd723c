import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serviceMain, type ServiceName } from '@vigil/demo';

const bad: Record<ServiceName, { yaml: string; paths: RegExp[] }> = {
  'health-check': {
    yaml: 'server: { port: http }\ndeadline: soon\nchecks:\n  - { name: app, kind: http, url: nope }\n  - { name: db, kind: tcp, host: 127.0.0.1 }\n',
    paths: [/^ {2}server\.port: /m, /^ {2}deadline: expected a duration such as "10s", got "soon"$/m, /^ {2}checks\[0\]\.url: /m, /^ {2}checks\[1\]\.port: is required$/m],
  },
  watchdog: {
    yaml:
      'server: { port: http }\nmonitors:\n  - { name: primary, url: "http://127.0.0.1:1/health", interval: ten, failureThreshold: 0 }\n' +
      '  - { url: "http://x/health", interval: 1s, colour: blue }\n  - { name: db, kind: tcp, host: db, interval: 5s }\n',
    paths: [
      /^ {2}server\.port: /m,
      /^ {2}monitors\[2\]\.port: is required$/m,
      /^ {2}monitors\[0\]\.interval: expected a duration such as "10s", got "ten"$/m,
      /^ {2}monitors\[0\]\.failureThreshold: /m,
      /^ {2}monitors\[1\]\.name: is required$/m,
      /^ {2}monitors\[1\]\.colour: unknown key/m,
    ],
  },
  activation: {
    yaml: 'voters:\n  - { id: w1, secret: not-a-secret }\ntargets:\n  - name: primary\n    plan:\n      - { name: enable, kind: http, url: "http://127.0.0.1:1/", timeout: forever }\n',
    paths: [/^ {2}voters\[0\]\.secret: /m, /^ {2}targets\[0\]\.plan\[0\]\.timeout: expected a duration such as "10s", got "forever"$/m],
  },
};

describe('a bad config file', () => {
  for (const [service, { yaml, paths }] of Object.entries(bad)) {
    it(`makes ${service} exit 2 naming each bad path, without a stack trace`, () => {
      const path = join(mkdtempSync(join(tmpdir(), 'vigil-config-')), `${service}.yaml`);
      writeFileSync(path, yaml);
      const result = spawnSync(process.execPath, [serviceMain(service as ServiceName), '--config', path], { encoding: 'utf8', timeout: 20_000 });
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(`invalid configuration in ${path}:`);
      for (const pattern of paths) expect(result.stderr).toMatch(pattern);
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(result.stdout).toBe('');
    });
  }

  it('names a missing file', () => {
    const result = spawnSync(process.execPath, [serviceMain('watchdog'), '--config', '/nonexistent/watchdog.yaml'], { encoding: 'utf8', timeout: 20_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/\/nonexistent\/watchdog\.yaml:\n\s+cannot read the file: ENOENT/);
  });
});
