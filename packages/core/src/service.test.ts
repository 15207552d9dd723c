import { createServer, type Server } from 'node:http';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { checkReady, CommandError, dialHost, runExtraCommand, serviceCommandFrom, usageText, UsageError, type ExtraCommand } from './service.js';
import type { TSchema } from 'typebox';

describe('serviceCommandFrom', () => {
  it('runs the service unless a command comes first', () => {
    expect(serviceCommandFrom([])).toBe('run');
    expect(serviceCommandFrom(['--config', 'x.yaml'])).toBe('run');
    expect(serviceCommandFrom(['run', '--config', 'x.yaml'])).toBe('run');
    expect(serviceCommandFrom(['check-config', '--config', 'x.yaml'])).toBe('check-config');
    expect(serviceCommandFrom(['healthcheck'])).toBe('healthcheck');
    expect(serviceCommandFrom(['helthcheck'])).toEqual({ unknown: 'helthcheck' });
  });

  it('knows the commands a service adds, and help', () => {
    expect(serviceCommandFrom(['export', '--config', 'x.yaml'], ['export'])).toEqual({ extra: 'export' });
    expect(serviceCommandFrom(['export'])).toEqual({ unknown: 'export' });
    expect(serviceCommandFrom(['healthcheck'], ['export'])).toBe('healthcheck');
    for (const asked of ['help', '--help', '-h']) expect(serviceCommandFrom([asked])).toBe('help');
  });
});

describe('usageText', () => {
  it('lists the common commands, then the service\'s own with their syntax and exit codes', () => {
    const text = usageText('vigil-x', { export: { usage: '--config <file> [--out <file>|-]', summary: 'writes the state', exitCodes: '3 refused' } });
    expect(text).toMatch(/^usage: vigil-x \[command\] \[options\]\n/);
    expect(text).toContain('  run           [--config <file>]\n');
    expect(text).toContain('  export        --config <file> [--out <file>|-]\n                writes the state\n');
    expect(text).toContain('exit codes: 0 done, 1 failed, 2 wrong command line, configuration or input; 3 refused\n');
  });
});

describe('runExtraCommand', () => {
  const config = { greeting: 'hello' };
  function streams() {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const text = (stream: PassThrough) => () => (stream.read() as Buffer | null)?.toString() ?? '';
    return { stdout, stderr, out: text(stdout), err: text(stderr) };
  }
  const greet: ExtraCommand<TSchema> = {
    usage: '--config <file> --name <who> [--loud]',
    summary: 'greets',
    options: { name: { type: 'string' }, loud: { type: 'boolean' } },
    async run({ config: c, options, logger, print }) {
      if (options.name === undefined) throw new UsageError('--name is required');
      if (options.name === 'nobody') throw new Error('nobody answered');
      if (options.name === 'root') throw new CommandError('refused: greet root by hand', 3);
      logger.info({ name: options.name }, 'greeting');
      await print(`${(c as typeof config).greeting} ${String(options.name)}${options.loud ? '!' : ''}\n`);
      return 0;
    },
  };

  it('passes the options and config; data goes to stdout, logs to stderr', async () => {
    const s = streams();
    await expect(runExtraCommand('vigil-x', 'greet', greet, ['--config', 'c.yaml', '--name', 'ops', '--loud'], config, 'c.yaml', s)).resolves.toBe(0);
    expect(s.out()).toBe('hello ops!\n');
    expect(JSON.parse(s.err())).toMatchObject({ level: 'info', service: 'vigil-x', name: 'ops', msg: 'greeting' });
  });

  it('exits 2 with the usage line on an unknown option or a UsageError, and 1 on a failure', async () => {
    let s = streams();
    await expect(runExtraCommand('vigil-x', 'greet', greet, ['--nme', 'ops'], config, undefined, s)).resolves.toBe(2);
    expect(s.err()).toMatch(/^vigil-x greet: Unknown option '--nme'.*\nusage: vigil-x greet --config <file> --name <who> \[--loud\]\n$/s);
    s = streams();
    await expect(runExtraCommand('vigil-x', 'greet', greet, [], config, undefined, s)).resolves.toBe(2);
    expect(s.err()).toBe('vigil-x greet: --name is required\nusage: vigil-x greet --config <file> --name <who> [--loud]\n');
    s = streams();
    await expect(runExtraCommand('vigil-x', 'greet', greet, ['--name', 'nobody'], config, undefined, s)).resolves.toBe(1);
    expect(s.err()).toBe('vigil-x greet: nobody answered\n');
    expect(s.out()).toBe('');
    s = streams();
    await expect(runExtraCommand('vigil-x', 'greet', greet, ['--name', 'root'], config, undefined, s)).resolves.toBe(3);
    expect(s.err()).toBe('vigil-x greet: refused: greet root by hand\n');
  });
});

describe('dialHost', () => {
  it('reaches a wildcard bind on loopback and keeps a specific address', () => {
    expect(dialHost('0.0.0.0')).toBe('127.0.0.1');
    expect(dialHost('')).toBe('127.0.0.1');
    expect(dialHost('::')).toBe('::1');
    expect(dialHost('10.1.2.3')).toBe('10.1.2.3');
  });
});

describe('checkReady', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((ok) => (server ? server.close(() => ok()) : ok())));

  async function serve(status: number, body: string): Promise<number> {
    server = createServer((req, res) => res.writeHead(req.url === '/readyz' ? status : 404).end(body));
    await new Promise<void>((ok) => server!.listen(0, '127.0.0.1', ok));
    return (server.address() as { port: number }).port;
  }

  it('is satisfied by a 200 from /readyz', async () => {
    const port = await serve(200, '{"status":"pass"}');
    await expect(checkReady({ host: '0.0.0.0', port })).resolves.toBeUndefined();
  });

  it('reports the status and body of a service that is not ready', async () => {
    const port = await serve(503, '{"status":"fail","output":"starting"}');
    await expect(checkReady({ host: '127.0.0.1', port })).resolves.toBe(`http://127.0.0.1:${port}/readyz answered 503: {"status":"fail","output":"starting"}`);
  });

  it('reports a refused connection with its cause', async () => {
    const port = await serve(200, '');
    await new Promise<void>((ok) => server!.close(() => ok()));
    server = undefined;
    const problem = await checkReady({ host: '127.0.0.1', port });
    expect(problem).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/readyz: .*ECONNREFUSED`));
  });
});
