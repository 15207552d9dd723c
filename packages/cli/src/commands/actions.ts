import { parseDuration } from '@vigil/core/duration';
import type { Context } from '../context.js';
import { CliError, EXIT, type ExitCode } from '../exit.js';
import { call, callEach, refusal, type Answer } from '../http.js';
import { duration, render } from '../output.js';
import type { Activation } from '../views.js';
import { exitForStatus, get, isFinal } from './common.js';

function operatorToken(context: Context): string {
  const token = context.connection.token;
  if (token === undefined) throw new CliError('an operator token is required: set VIGIL_TOKEN or give --token-file <file>');
  return token;
}

/**
 * Posts an operator action with its reason. The contract's body is `{reason}`; a service from
 * before `reason` existed knows only `comment` (the same field: the audit records it as the
 * comment), so a 400 about an unknown field is answered once more with `comment`.
 */
async function postAction<T>(context: Context, path: string, body: Record<string, unknown>, reason: string): Promise<Answer<T>> {
  const options = { method: 'POST' as const, token: operatorToken(context), timeoutMs: context.connection.timeoutMs, accept: [400] };
  const answer = await call<T>(context.connection.servers, path, { ...options, body: { ...body, reason } });
  if (answer.status !== 400) return answer;
  const message = JSON.stringify(answer.body);
  if (!/additional propert|not a known field|reason/i.test(message)) throw refusal(answer, path);
  context.note(`${answer.server} does not know "reason" (an older version): sending it as "comment"`);
  const retry = await call<T>([answer.server], path, { ...options, body: { ...body, comment: reason } });
  if (retry.status === 400) throw refusal(retry, path);
  return retry;
}

function requireReason(reason: string | undefined): string {
  if (reason === undefined || reason.trim() === '') throw new CliError('--reason is required: say why (it is recorded in the audit log with your name)', EXIT.usage);
  return reason;
}

function activationLine(a: Activation): string {
  const step = a.steps.at(-1);
  return `${a.kind ?? 'failover'} ${a.id} of ${a.target}: ${a.status}, epoch ${a.epoch}${step ? `; step ${step.name} ${step.status}` : ''}${a.reason ? ` (${a.reason})` : ''}\n`;
}

/** `vigil approve|cancel <activation> --reason …`. */
export async function decide(context: Context, action: 'approve' | 'cancel', id: string, reasonText: string | undefined): Promise<ExitCode> {
  const reason = requireReason(reasonText);
  const answer = await postAction<Activation>(context, `/v1/activations/${encodeURIComponent(id)}/${action}`, {}, reason);
  const a = answer.body;
  context.print(context.format === 'table' ? `${action === 'approve' ? 'approved' : 'cancelled'}: ${activationLine(a)}` : render(context.format, { server: answer.server, activation: a }));
  return EXIT.ok;
}

/** What a wait ended with. */
export interface WaitResult {
  activation: Activation;
  waitedMs: number;
  final: boolean;
}

/**
 * Waits for an activation to end, polling it (each poll asks the servers in turn). On a
 * terminal (stderr is a TTY) one line shows its progress, rewritten in place.
 */
export async function waitFor(context: Context, first: Activation, limitMs: number, everyMs = 500): Promise<WaitResult> {
  const started = context.now();
  let activation = first;
  const tty = context.streams.err.isTTY === true;
  let shown = '';
  const progress = (text: string) => {
    if (tty) {
      context.streams.err.write(`\r\u001b[2K${text}`);
      shown = text;
    } else if (text !== shown) {
      shown = text;
    }
  };
  const describe = (a: Activation) => {
    const step = a.steps.at(-1);
    const doing = a.status === 'running' && step ? `step ${a.steps.length} ${step.name} ${step.status}` : a.status;
    return `${a.kind ?? 'failover'} ${a.id} of ${a.target}: ${doing} — ${duration(Math.round((context.now() - started) / 1000) * 1000)} of ${duration(limitMs)}`;
  };
  let lastStatus = '';
  while (!isFinal(activation)) {
    const line = describe(activation);
    progress(line);
    const status = `${activation.status}/${activation.steps.map((s) => `${s.name}:${s.status}`).join(',')}`;
    if (!tty && status !== lastStatus) context.note(line);
    lastStatus = status;
    if (context.now() - started >= limitMs || context.signal.aborted) break;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.min(everyMs, Math.max(0, limitMs - (context.now() - started))));
      context.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
    if (context.signal.aborted) break;
    try {
      activation = (await get<Activation>(context, `/v1/activations/${encodeURIComponent(activation.id)}`)).body;
    } catch (err) {
      // A poll that fails is not the end of the activation: keep waiting, say so.
      context.note(`\n${err instanceof Error ? err.message : String(err)}; still waiting`);
    }
  }
  if (tty && shown !== '') context.streams.err.write('\r\u001b[2K');
  return { activation, waitedMs: context.now() - started, final: isFinal(activation) };
}

/** `vigil failback <target> --reason … [--wait [duration]]`. */
export async function failback(context: Context, target: string, reasonText: string | undefined, wait: string | boolean | undefined): Promise<ExitCode> {
  const reason = requireReason(reasonText);
  let limitMs: number | undefined;
  if (wait !== undefined && wait !== false) {
    limitMs = wait === true ? 10 * 60_000 : parseDuration(wait);
    if (limitMs === undefined) throw new CliError(`--wait: expected a duration such as "5m", got "${String(wait)}"`, EXIT.usage);
  }
  const answer = await postAction<Activation>(context, '/v1/failbacks', { target }, reason);
  let activation = answer.body;
  context.note(`failback ${activation.id} of ${target} created (${activation.status}) on ${answer.server}`);
  let result: WaitResult | undefined;
  if (limitMs !== undefined) {
    result = await waitFor(context, activation, limitMs);
    activation = result.activation;
  }
  const code = limitMs === undefined ? (activation.status === 'awaiting-approval' ? EXIT.pendingApproval : EXIT.ok) : exitForStatus(activation.status);
  if (context.format !== 'table') {
    context.print(render(context.format, { server: answer.server, activation, ...(result && { waitedMs: result.waitedMs, final: result.final }) }));
  } else {
    context.print(activationLine(activation));
  }
  if (result && !result.final) {
    const why = activation.status === 'awaiting-approval' ? `waits for an approval (vigil approve ${activation.id} --reason …)` : `is still ${activation.status}: it has not failed`;
    context.note(`after waiting ${duration(result.waitedMs)} the failback ${why}; follow it with \`vigil show ${activation.id}\` or \`vigil status ${target} --watch\``);
  }
  return code;
}

/** `vigil pause <monitor> --for … --reason …` / `vigil resume <monitor> --reason …` on every watchdog that has the monitor. */
export async function pauseOrResume(context: Context, action: 'pause' | 'resume', monitor: string, reasonText: string | undefined, forText: string | undefined): Promise<ExitCode> {
  const reason = requireReason(reasonText);
  const body: Record<string, string> = { reason };
  if (action === 'pause') {
    if (forText === undefined) throw new CliError('--for is required: a pause ends by itself (e.g. --for 30m)', EXIT.usage);
    if (parseDuration(forText) === undefined) throw new CliError(`--for: expected a duration such as "30m", got "${forText}"`, EXIT.usage);
    body.for = forText;
  }
  const token = context.connection.watchdogToken ?? context.connection.token;
  if (token === undefined) throw new CliError('a token is required for the watchdogs\' pause API: set VIGIL_TOKEN or give --token-file <file>');
  const path = `/v1/monitors/${encodeURIComponent(monitor)}/${action}`;
  const results = await callEach<Record<string, unknown>>(context.connection.watchdogs, path, { method: 'POST', body, token, timeoutMs: context.connection.timeoutMs, accept: [404] });
  const lines = results.map((r) => {
    if (!r.ok) return { watchdog: r.server, ok: false, error: r.error };
    if (r.status === 404) return { watchdog: r.server, ok: false, unknown: true, error: `${JSON.stringify(r.body)}` };
    return { watchdog: r.server, ok: true, answer: r.body };
  });
  const done = lines.filter((l) => l.ok);
  const failed = lines.filter((l) => !l.ok && !('unknown' in l && l.unknown && String(l.error).includes('unknown-monitor')));
  const code: ExitCode = done.length === 0 || failed.length > 0 ? EXIT.error : EXIT.ok;
  if (context.format !== 'table') context.print(render(context.format, { monitor, action, results: lines }));
  else {
    const verb = action === 'pause' ? `paused for ${forText ?? ''}` : 'resumed';
    for (const l of lines) context.print(l.ok ? `${monitor} ${verb} on ${l.watchdog}\n` : `${monitor} not ${action === 'pause' ? 'paused' : 'resumed'} on ${l.watchdog}: ${l.error}\n`);
  }
  if (done.length === 0) context.note(`no watchdog ${action === 'pause' ? 'paused' : 'resumed'} ${monitor}`);
  return code;
}
