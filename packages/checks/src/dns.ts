import { Resolver } from 'node:dns/promises';
import { Duration } from '@vigil/core';
import Type, { type StaticDecode } from 'typebox';
import type { Check } from './check.js';
import { abortText, errorText, fail, pass } from './outcome.js';

export const DnsCheckConfig = Type.Object(
  {
    kind: Type.Literal('dns'),
    host: Type.String({ minLength: 1, description: 'the name to resolve' }),
    type: Type.Union([Type.Literal('A'), Type.Literal('AAAA'), Type.Literal('CNAME'), Type.Literal('SRV')], { default: 'A' }),
    server: Type.Optional(
      Type.String({
        pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[0-9.]+)(:\\d+)?$',
        'x-expected': 'a resolver address such as "10.0.0.2" or "127.0.0.1:5353"',
        description: "the resolver to ask; defaults to the system's",
      }),
    ),
    expect: Type.Optional(Type.String({ minLength: 1, description: 'a value one of the answers must equal (an address, a name, or "target:port" for SRV)' })),
    timeout: Duration({ default: '1s' }),
  },
  { additionalProperties: false },
);
export type DnsCheckConfig = StaticDecode<typeof DnsCheckConfig>;

/** A DNS check: resolves a name to records of one type; optionally one answer must equal `expect`. */
export const dns: Check<DnsCheckConfig> = {
  kind: 'dns',
  componentType: 'component',
  async run(config, signal) {
    // A resolver per run: its queries can be cancelled when the check is aborted.
    const resolver = new Resolver({ timeout: config.timeout, tries: 1 });
    if (config.server) resolver.setServers([config.server]);
    const cancel = () => resolver.cancel();
    signal.addEventListener('abort', cancel, { once: true });
    try {
      const answers = await resolve(resolver, config);
      if (answers.length === 0) return fail(`no ${config.type} records for ${config.host}`);
      const shown = answers.length > 5 ? `${answers.slice(0, 5).join(', ')}, … (${answers.length})` : answers.join(', ');
      if (config.expect !== undefined && !answers.some((a) => a.toLowerCase() === config.expect!.toLowerCase())) {
        return fail(`${config.host} ${config.type}: ${shown} (expected ${config.expect})`);
      }
      return pass(`${config.host} ${config.type}: ${shown}`);
    } catch (err) {
      return fail(signal.aborted ? abortText(signal) : errorText(err));
    } finally {
      signal.removeEventListener('abort', cancel);
    }
  },
};

async function resolve(resolver: Resolver, config: DnsCheckConfig): Promise<string[]> {
  switch (config.type) {
    case 'A':
      return resolver.resolve4(config.host);
    case 'AAAA':
      return resolver.resolve6(config.host);
    case 'CNAME':
      return resolver.resolveCname(config.host);
    case 'SRV':
      return (await resolver.resolveSrv(config.host)).map((r) => `${r.name}:${r.port}`);
  }
}
