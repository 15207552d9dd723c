// Vigil console: plain JavaScript, no build step, no framework. Reads the activation service's
// public APIs, follows its event streams, and sends operator actions with a token that lives in
// the `token` variable below only (never in the browser's web storage or a cookie).
'use strict';

(() => {
  /** The operator token, in memory only: a reload forgets it. */
  let token = null;
  /** Targets by name: { name, el, view, active, activation, audit, dataLoss }. */
  const targets = new Map();
  /** Per watchdog URL: { entry, receivedAt } of the last answer that listed its monitors. */
  const watchdogs = new Map();
  let monitorsError = null;
  let monitorsFetchedAt = 0;
  /** Open event streams: { name, source, openedAt, lostAt }. */
  const streams = new Map();
  let started = Date.now();

  const FINAL = ['succeeded', 'failed', 'interrupted', 'cancelled', 'notified'];
  const MONITOR_POLL_MS = 5000;
  const TARGET_POLL_MS = 15000;
  /**
   * A browser opens at most 6 HTTP/1.1 connections to one origin, and every event stream holds
   * one: past this many targets, the active side follows the activation stream (a read of
   * GET /v1/active at each change of an activation) instead of a stream per target.
   */
  const MAX_ACTIVE_STREAMS = 3;

  // ---- helpers ---------------------------------------------------------------------------------

  /** Builds an element; strings become text nodes (never HTML). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'text') el.textContent = value;
      else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? '' : String(value));
    }
    el.append(...nodes(children));
    return el;
  }

  /** Children as nodes: strings become text nodes; null, undefined and false are left out. */
  function nodes(children) {
    return children
      .flat()
      .filter((child) => child !== undefined && child !== null && child !== false)
      .map((child) => (child instanceof Node ? child : document.createTextNode(String(child))));
  }

  function formatMs(ms) {
    if (ms === undefined || ms === null || Number.isNaN(ms)) return '–';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
    const two = (big, bigUnit, small, smallUnit) => `${big} ${bigUnit}${small > 0 ? ` ${small} ${smallUnit}` : ''}`;
    if (ms < 3600000) return two(Math.floor(ms / 60000), 'min', Math.floor((ms % 60000) / 1000), 's');
    if (ms < 86400000) return two(Math.floor(ms / 3600000), 'h', Math.floor((ms % 3600000) / 60000), 'min');
    return two(Math.floor(ms / 86400000), 'd', Math.floor((ms % 86400000) / 3600000), 'h');
  }

  function ago(iso) {
    const t = Date.parse(iso);
    return Number.isNaN(t) ? '' : `${formatMs(Math.max(0, Date.now() - t))} ago`;
  }

  function clock(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  }

  /** A time element whose "… ago" text the ticker keeps current. */
  function timeAgo(iso) {
    return h('time', { datetime: iso, title: new Date(iso).toString(), 'data-ago': iso }, ago(iso));
  }

  async function getJson(path) {
    const res = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(body.message || `${path} answered ${res.status}`), { status: res.status, body });
    return body;
  }

  async function post(path, body) {
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
      cache: 'no-store',
    });
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(answer.message || `answered ${res.status}`), { status: res.status, body: answer });
    return answer;
  }

  const enc = encodeURIComponent;

  // ---- targets ---------------------------------------------------------------------------------

  function initTargets() {
    for (const el of document.querySelectorAll('article.target')) {
      const name = el.dataset.target;
      targets.set(name, { name, el, view: null, active: null, activation: null, audit: [], auditFor: null, dataLoss: null });
    }
  }

  const part = (t, name) => t.el.querySelector(`[data-part="${name}"]`);

  function newer(a, b) {
    if (!b) return true;
    if (a.epoch !== b.epoch) return a.epoch > b.epoch;
    return (a.revision || 0) >= (b.revision || 0);
  }

  function setActive(t, side) {
    if (!side || !newer(side, t.active)) return;
    t.active = side;
    renderActive(t);
    renderActions(t);
  }

  function setActivation(t, activation) {
    if (!activation) return;
    const current = t.activation;
    // Keep the newest incident: a later activation replaces the shown one, an update of it refreshes it.
    if (current && current.id !== activation.id && Date.parse(activation.createdAt) < Date.parse(current.createdAt)) return;
    t.activation = activation;
    renderActive(t);
    renderTimeline(t);
    renderActions(t);
    loadAudit(t, activation.id);
  }

  function renderActive(t) {
    const el = part(t, 'active');
    const side = t.active;
    el.replaceChildren();
    if (!side) {
      el.className = 'active-side unknown';
      el.append(h('span', { class: 'badge' }, 'unknown'), ' ', h('span', { class: 'detail' }, 'no answer yet'));
      return;
    }
    const switching = side.activationId && t.activation && t.activation.id === side.activationId && !FINAL.includes(t.activation.status);
    el.className = `active-side ${side.active}`;
    el.replaceChildren(
      ...nodes([
        h('span', { class: 'label' }, 'Active: '),
        h('span', { class: `badge ${side.active}`, 'data-side': side.active }, side.active === 'primary' ? 'primary' : 'secondary'),
        ' ',
        h('span', { class: 'epoch' }, `epoch ${side.epoch}`),
        side.since ? h('span', { class: 'detail' }, ' · since ', timeAgo(side.since)) : null,
        switching ? h('span', { class: 'switching' }, ` · ${t.activation.kind === 'failback' ? 'failback' : 'failover'} ${t.activation.status}`) : null,
      ]),
    );
  }

  function renderMeta(t) {
    const v = t.view;
    const el = part(t, 'meta');
    el.replaceChildren();
    if (!v) return;
    const bits = [`mode: ${v.mode}`, `quorum: ${v.quorum.votes} of ${v.voters.length} voters within ${formatMs(v.quorum.windowMs)}`];
    if (v.votes && v.votes.length > 0) bits.push(`votes now: ${v.votes.map((x) => x.voter).join(', ')}`);
    const hold = v.holdOff || { durationMs: 0, probe: false };
    if (hold.durationMs > 0 || hold.probe) bits.push(`hold-off: ${hold.durationMs > 0 ? formatMs(hold.durationMs) : 'none'}${hold.probe ? ', then a direct probe of the primary' : ''}`);
    else bits.push('hold-off: none');
    if (v.dataLoss) bits.push(`data-loss guard: ${v.dataLoss.kind}, max ${formatMs(v.dataLoss.maxMs)}`);
    if (v.rtoMs !== undefined) bits.push(`RTO ${formatMs(v.rtoMs)}`);
    el.textContent = bits.join(' · ');
  }

  // ---- the incident timeline -------------------------------------------------------------------

  function entry(kind, time, title, ...detail) {
    return h('li', { class: `event ${kind}` }, h('span', { class: 'when' }, time ? clock(time) : ''), h('span', { class: 'what' }, h('strong', {}, title), detail.length ? ' ' : '', ...detail));
  }

  function stepDuration(step) {
    const start = Date.parse(step.startedAt);
    const end = step.endedAt ? Date.parse(step.endedAt) : Date.now();
    return end - start;
  }

  function renderTimeline(t) {
    const el = part(t, 'timeline');
    const a = t.activation;
    el.replaceChildren();
    if (!a) {
      el.append(h('p', { class: 'muted' }, 'No incident recorded.'));
      return;
    }
    const audit = t.auditFor === a.id ? t.audit : [];
    const final = FINAL.includes(a.status);
    el.append(
      h(
        'p',
        { class: `incident-head status-${a.status}` },
        h('span', { class: `status badge ${a.status}` }, a.status),
        ` ${a.kind === 'failback' ? 'Failback' : 'Failover'} ${a.id} · epoch ${a.epoch} · incident ${a.incidentId} · started `,
        timeAgo(a.createdAt),
        final ? '' : ' · in progress',
      ),
    );
    const list = h('ol', { class: 'timeline' });

    // 1. What the watchdogs saw (evidence carried by their votes, when the record keeps it), 2. the votes.
    for (const vote of a.votes || []) {
      const evidence = Array.isArray(vote.evidence) ? vote.evidence : [];
      for (const probe of evidence) {
        list.append(entry('evidence', probe.time, `Probe by ${vote.voter}: ${probe.status}`, `${formatMs(probe.durationMs)}${probe.output ? ` — ${probe.output}` : ''}`));
      }
      list.append(entry('vote', vote.receivedAt, `Vote from ${vote.voter}`, `incident ${vote.incidentId}`));
    }
    // 3. The decision.
    const created = audit.find((r) => r.event === 'activation-created' || r.event === 'failback-created');
    if (a.kind === 'failback') {
      const by = created && created.operator ? created.operator : a.voter;
      list.append(entry('decision', a.createdAt, `Failback requested by ${by}`, created && created.comment ? `reason: ${created.comment}` : ''));
    } else {
      const n = (a.votes || []).length;
      list.append(entry('decision', a.createdAt, 'Decision: fail over', `${n > 0 ? `quorum of ${n} vote${n === 1 ? '' : 's'} reached (last: ${a.voter})` : `requested by ${a.voter}`} · mode ${a.mode || 'auto'} · epoch ${a.epoch}`));
    }
    const probed = audit.filter((r) => r.event === 'primary-probed');
    if (probed.length > 0) {
      for (const r of probed) list.append(entry('probe', r.time, `Primary probed directly: ${r.status}`, [r.probe, r.output].filter(Boolean).join(' — ')));
    } else if (a.confirmation) {
      const c = a.confirmation;
      list.append(entry('probe', '', `Direct probe of the primary: ${c.status}`, [c.probe, c.output].filter(Boolean).join(' — ')));
    }
    if (a.dataLoss) {
      const d = a.dataLoss;
      list.append(entry(d.exceeded ? 'warning' : 'probe', '', `Data-loss guard: ${d.exceeded ? 'over the limit' : 'within the limit'}`, `lag ${d.lagMs === undefined ? 'unknown' : formatMs(d.lagMs)} of max ${formatMs(d.maxMs)}${d.output ? ` — ${d.output}` : ''}`));
    }
    // 4. Approvals.
    if (a.approval) list.append(entry('approval', a.approval.requestedAt, 'Waiting for an operator', a.approval.reason));
    for (const r of audit.filter((x) => x.event === 'approved' || x.event === 'cancelled')) {
      list.append(entry(r.event === 'approved' ? 'approval' : 'warning', r.time, `${r.event === 'approved' ? 'Approved' : 'Cancelled'} by ${r.operator}`, r.comment ? `reason: ${r.comment}` : ''));
    }
    if (a.approval && a.approval.decidedBy && !audit.some((x) => x.event === 'approved' || x.event === 'cancelled')) {
      list.append(entry('approval', a.approval.decidedAt, `Decided by ${a.approval.decidedBy}`));
    }
    for (const r of audit.filter((x) => x.event === 'page')) list.append(entry('page', r.time, `Paged: ${r.delivered ? 'delivered' : 'not delivered'}`, r.summary));
    // 5. The steps, live.
    for (const step of a.steps || []) {
      const d = stepDuration(step);
      list.append(
        entry(
          `step ${step.status}`,
          step.startedAt,
          `Step ${step.name} (${step.kind}): ${step.status}`,
          h('span', { 'data-step-start': step.status === 'running' ? step.startedAt : null }, formatMs(d)),
          step.attempts > 1 ? ` · ${step.attempts} attempts` : '',
          step.responseStatus ? ` · HTTP ${step.responseStatus}` : '',
          step.continued ? ' · plan continued' : '',
          step.output ? h('pre', { class: 'output' }, step.output) : null,
        ),
      );
    }
    // 6. The outcome.
    if (final) list.append(entry(`outcome ${a.status}`, a.finishedAt, `Outcome: ${a.status}`, a.reason || ''));
    else list.append(entry('outcome pending', '', `Now: ${a.status}`, a.status === 'awaiting-approval' ? 'an operator must approve or cancel' : ''));
    el.append(list);
  }

  const auditLoads = new Map();
  function loadAudit(t, id) {
    // One request at a time per activation; a change during it asks for one more.
    const state = auditLoads.get(id);
    if (state) {
      state.again = true;
      return;
    }
    const run = { again: false };
    auditLoads.set(id, run);
    getJson(`/v1/activations/${enc(id)}/audit`)
      .then((body) => {
        if (t.activation && t.activation.id === id) {
          t.audit = body.records || [];
          t.auditFor = id;
          renderTimeline(t);
        }
      })
      .catch(() => undefined)
      .finally(() => {
        auditLoads.delete(id);
        if (run.again) loadAudit(t, id);
      });
  }

  // ---- operator actions ------------------------------------------------------------------------

  function renderActions(t) {
    const el = part(t, 'actions');
    el.replaceChildren();
    // Without a token there are no buttons at all: reading is public, acting is not.
    if (token === null) {
      el.hidden = true;
      return;
    }
    const a = t.activation && !FINAL.includes(t.activation.status) ? t.activation : null;
    const buttons = [];
    if (a && a.status === 'awaiting-approval') {
      buttons.push(h('button', { type: 'button', class: 'approve', 'aria-label': `Approve ${a.kind || 'failover'} of ${t.name}`, onclick: () => openConfirm(t, 'approve') }, 'Approve…'));
    }
    if (a && (a.status === 'awaiting-approval' || a.status === 'holding-off')) {
      buttons.push(h('button', { type: 'button', class: 'cancel', 'aria-label': `Cancel ${a.kind || 'failover'} of ${t.name}`, onclick: () => openConfirm(t, 'cancel') }, 'Cancel…'));
    }
    if (!a && t.active && t.active.active === 'secondary') {
      buttons.push(h('button', { type: 'button', class: 'failback', 'aria-label': `Fail back ${t.name} to the primary`, onclick: () => openConfirm(t, 'failback') }, 'Fail back…'));
    }
    el.hidden = buttons.length === 0;
    if (buttons.length === 0) return;
    // What a click would run, and the data-loss reading, before any click.
    const isFailback = !a || a.kind === 'failback';
    const plan = t.view && (isFailback ? t.view.failback && t.view.failback.plan : t.view.plan);
    const summary = plan
      ? `${isFailback ? 'Failback plan' : 'Plan'}: ${plan.map((s) => s.name).join(' → ') || 'no steps'} · worst case ${formatMs(plan.reduce((sum, s) => sum + s.budgetMs, 0))}`
      : 'Plan: not known';
    el.append(...buttons, h('p', { class: 'plan-summary' }, summary, ' · data loss: ', h('span', { 'data-part': 'data-loss' }, dataLossText(t.dataLoss))));
    refreshDataLoss(t);
  }

  /** Reads the data-loss guard for a target's action panel, at most every 10 s. */
  function refreshDataLoss(t) {
    if (t.dataLossAt && Date.now() - t.dataLossAt < 10000) return;
    t.dataLossAt = Date.now();
    getJson(`/v1/targets/${enc(t.name)}/data-loss`).then(
      (body) => {
        t.dataLoss = body;
        const el = part(t, 'data-loss');
        if (el) el.textContent = dataLossText(body);
      },
      (err) => {
        t.dataLoss = { error: err.message };
        const el = part(t, 'data-loss');
        if (el) el.textContent = dataLossText(t.dataLoss);
      },
    );
  }

  function planList(steps) {
    if (!steps || steps.length === 0) return h('p', { class: 'muted' }, 'No steps.');
    return h(
      'ol',
      { class: 'plan' },
      steps.map((s) => h('li', {}, `${s.name} (${s.kind}) · timeout ${formatMs(s.timeoutMs)} · ${s.attempts} attempt${s.attempts === 1 ? '' : 's'} · worst case ${formatMs(s.budgetMs)}`)),
    );
  }

  function dataLossText(reading) {
    if (!reading) return 'reading…';
    if (reading.error) return `unavailable: ${reading.error}`;
    if (!reading.configured) return 'no data-loss guard is configured for this target';
    const lag = reading.lagMs === undefined ? 'unknown lag' : `lag ${formatMs(reading.lagMs)}`;
    const verdict = reading.withinLimit ? 'within the limit' : 'OVER the limit';
    return `${lag} of max ${formatMs(reading.maxMs)}: ${verdict}${reading.output ? ` (${reading.output})` : ''} · checked ${clock(reading.checkedAt)}`;
  }

  let pending = null;

  function openConfirm(t, action) {
    const dialog = document.getElementById('confirm');
    const a = t.activation;
    const v = t.view;
    const isFailback = action === 'failback' || (a && a.kind === 'failback');
    const plan = isFailback ? v && v.failback && v.failback.plan : v && v.plan;
    const verbs = { approve: 'Approve', cancel: 'Cancel', failback: 'Fail back' };
    const what = {
      approve: `Approve ${isFailback ? 'the failback' : 'the failover'} of target "${t.name}"${a ? ` (activation ${a.id}, epoch ${a.epoch})` : ''}: its plan runs at once.`,
      cancel: `Cancel ${isFailback ? 'the failback' : 'the failover'} of target "${t.name}"${a ? ` (activation ${a.id})` : ''}: its plan does not run and the ${isFailback ? 'secondary' : 'primary'} stays active.`,
      failback: `Fail back target "${t.name}" to the primary: the failback plan runs once the primary proves healthy${v && v.failback && v.failback.approval ? ', then waits for an approval' : ''}.`,
    }[action];
    pending = { t, action, activationId: a ? a.id : null };
    document.getElementById('confirm-title').textContent = `${verbs[action]} — ${t.name}`;
    const reading = h('p', { id: 'confirm-data-loss' }, dataLossText(null));
    document
      .getElementById('confirm-body')
      .replaceChildren(
        h('p', { class: 'what' }, what),
        h('h3', {}, action === 'cancel' ? 'Plan that will not run' : 'Plan'),
        plan ? planList(plan) : h('p', { class: 'muted' }, 'The plan is not known (GET /v1/targets did not answer).'),
        h('h3', {}, 'Data-loss reading'),
        reading,
      );
    document.getElementById('confirm-name-label').textContent = `Type the target's name, ${t.name}, to confirm`;
    document.getElementById('confirm-name').value = '';
    document.getElementById('confirm-reason').value = '';
    document.getElementById('confirm-error').textContent = '';
    const ok = document.getElementById('confirm-ok');
    ok.textContent = `${verbs[action]} ${t.name}`;
    ok.disabled = true;
    dialog.showModal();
    document.getElementById('confirm-reason').focus();
    getJson(`/v1/targets/${enc(t.name)}/data-loss`).then(
      (body) => {
        t.dataLoss = body;
        reading.textContent = dataLossText(body);
      },
      (err) => {
        reading.textContent = dataLossText({ error: err.message });
      },
    );
  }

  function confirmReady() {
    const ok = document.getElementById('confirm-ok');
    const typed = document.getElementById('confirm-name').value;
    const reason = document.getElementById('confirm-reason').value.trim();
    ok.disabled = !pending || typed !== pending.t.name || reason.length === 0;
  }

  async function submitConfirm(event) {
    event.preventDefault();
    if (!pending || token === null) return;
    const { t, action, activationId } = pending;
    const reason = document.getElementById('confirm-reason').value.trim();
    if (document.getElementById('confirm-name').value !== t.name || reason.length === 0) return;
    const ok = document.getElementById('confirm-ok');
    ok.disabled = true;
    try {
      const path = action === 'failback' ? '/v1/failbacks' : `/v1/activations/${enc(activationId)}/${action}`;
      const body = action === 'failback' ? { target: t.name, reason } : { reason };
      const activation = await post(path, body);
      document.getElementById('confirm').close();
      pending = null;
      setActivation(t, activation);
      notice(`${action === 'failback' ? 'Failback requested' : action === 'approve' ? 'Approved' : 'Cancelled'}: ${t.name}`);
    } catch (err) {
      document.getElementById('confirm-error').textContent = `Refused: ${err.message}${err.status === 401 ? ' (sign in again)' : ''}`;
      ok.disabled = false;
    }
  }

  function notice(text) {
    const el = document.getElementById('signin-status');
    el.textContent = text;
  }

  // ---- sign in ---------------------------------------------------------------------------------

  async function signIn(event) {
    event.preventDefault();
    const input = document.getElementById('token');
    const offered = input.value.trim();
    input.value = '';
    if (!offered) return;
    const status = document.getElementById('signin-status');
    status.textContent = 'checking…';
    let operator;
    try {
      const res = await fetch('/v1/operator', { headers: { authorization: `Bearer ${offered}` }, cache: 'no-store' });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) {
        status.textContent = `Sign-in refused: ${body.message || res.status}`;
        return;
      }
      operator = body.operator;
    } catch (err) {
      status.textContent = `Sign-in failed: ${err.message}`;
      return;
    }
    token = offered;
    status.textContent = '';
    document.getElementById('signin').hidden = true;
    const op = document.getElementById('operator');
    op.hidden = false;
    op.querySelector('.text').textContent = `Signed in as ${operator} (token held in this page only).`;
    for (const t of targets.values()) renderActions(t);
  }

  function signOut() {
    token = null;
    document.getElementById('signin').hidden = false;
    document.getElementById('operator').hidden = true;
    for (const t of targets.values()) renderActions(t);
  }

  // ---- monitors --------------------------------------------------------------------------------

  /** A monitor's data age in ms, measured on the servers' clocks plus the time since it reached the page. */
  function monitorAge(m, entry, receivedAt) {
    const last = m.lastProbeAt || (m.lastResult && m.lastResult.time);
    if (!last) return undefined;
    const fetched = Date.parse(entry.fetchedAt);
    const base = Number.isNaN(fetched) ? Date.now() : fetched + (Date.now() - receivedAt);
    return Math.max(0, base - Date.parse(last));
  }

  /** 'up' | 'down' | 'degraded' | 'maintenance' | 'paused' | 'unknown' | 'stale', and its text. */
  function monitorStatus(m, entry, receivedAt, reachable) {
    const age = monitorAge(m, entry, receivedAt);
    const interval = m.intervalMs;
    // What cannot be vouched for now is never shown as up: an unreachable watchdog's data is stale.
    if (!reachable) return { key: 'stale', text: `stale: watchdog unreachable${age !== undefined ? `, last probe ${formatMs(age)} ago` : ''}`, age };
    if (m.paused) return { key: 'paused', text: `paused${m.paused.until ? ` until ${clock(m.paused.until)}` : ''}${m.paused.reason ? `: ${m.paused.reason}` : ''}${m.paused.operator ? ` (${m.paused.operator})` : ''}`, age };
    if (age === undefined) return { key: 'unknown', text: 'unknown: no probe yet', age };
    if (!interval) return { key: 'stale', text: `unknown freshness (no interval reported), last probe ${formatMs(age)} ago`, age };
    if (age > 3 * interval) return { key: 'stale', text: `stale: last probe ${formatMs(age)} ago (expected every ${formatMs(interval)})`, age };
    if (m.inMaintenance) return { key: 'maintenance', text: 'in maintenance', age };
    if (m.state === 'up') return { key: 'up', text: 'up', age };
    if (m.state === 'down') return { key: 'down', text: 'down', age };
    if (m.state === 'degraded') return { key: 'degraded', text: `degraded (${m.consecutiveFailures} failure${m.consecutiveFailures === 1 ? '' : 's'})`, age };
    return { key: 'unknown', text: 'unknown', age };
  }

  function uptimeBars(m) {
    const bucketMs = (m.history && m.history.bucketMs) || 900000;
    const buckets = new Map(((m.history && m.history.buckets) || []).map((b) => [Math.floor(Date.parse(b.start) / bucketMs), b]));
    const now = Math.floor(Date.now() / bucketMs);
    const bars = h('div', { class: 'bars', role: 'img' });
    let up = 0;
    let total = 0;
    for (let i = 95; i >= 0; i--) {
      const b = buckets.get(now - i);
      let key = 'unknown';
      let label = 'no data';
      if (b) {
        const n = b.up + b.down + b.maintenance;
        up += b.up;
        total += b.up + b.down;
        if (n === 0) key = 'unknown';
        else if (b.down > 0) key = 'down';
        else if (b.maintenance > 0 && b.up === 0) key = 'maintenance';
        else key = 'up';
        label = `${b.up} up, ${b.down} down, ${b.maintenance} in maintenance${b.avgMs !== undefined ? `, avg ${formatMs(b.avgMs)}` : ''}`;
      }
      bars.append(h('span', { class: `bar ${key}`, title: `${clock(new Date((now - i) * bucketMs).toISOString())}: ${label}` }));
    }
    const pct = total > 0 ? `${((100 * up) / total).toFixed(2)}% up over 24 h` : 'no uptime data over 24 h';
    bars.setAttribute('aria-label', pct);
    return { bars, pct, known: Boolean(m.history) };
  }

  function renderMonitors() {
    const list = document.getElementById('monitor-list');
    list.replaceChildren();
    if (monitorsError && watchdogs.size === 0) {
      list.append(h('p', { class: 'stale-note' }, `No monitor data: ${monitorsError}`));
      return;
    }
    if (monitorsError) list.append(h('p', { class: 'stale-note' }, `Monitor data is stale: ${monitorsError} (last answer ${formatMs(Date.now() - monitorsFetchedAt)} ago)`));
    for (const [url, { entry, receivedAt, lastOk }] of watchdogs) {
      const reachable = entry.ok && !monitorsError;
      const section = h('section', { class: 'watchdog', 'data-watchdog': url }, h('h3', {}, `Watchdog ${url}`));
      if (!entry.ok) section.append(h('p', { class: 'stale-note' }, `Unreachable: ${entry.error || 'no answer'}${lastOk ? ` · showing its data from ${formatMs(Date.now() - lastOk)} ago` : ''}`));
      const monitors = entry.monitors || [];
      if (monitors.length === 0) section.append(h('p', { class: 'muted' }, entry.ok ? 'No monitors.' : 'No monitor data.'));
      for (const m of monitors) {
        const status = monitorStatus(m, entry, receivedAt, reachable);
        const { bars, pct } = uptimeBars(m);
        const rt = m.lastResult ? `${formatMs(m.lastResult.durationMs)} last` : '';
        const avg = (() => {
          const bs = ((m.history && m.history.buckets) || []).filter((b) => b.avgMs !== undefined);
          return bs.length ? `${formatMs(bs.reduce((s, b) => s + b.avgMs, 0) / bs.length)} avg 24 h` : '';
        })();
        section.append(
          h(
            'article',
            { class: `monitor ${status.key}`, 'data-monitor': m.name, 'data-status': status.key },
            h(
              'div',
              { class: 'monitor-head' },
              h('h4', {}, m.name),
              h('span', { class: `badge ${status.key}` }, status.key === 'stale' ? 'stale' : status.key),
              h('span', { class: 'status-text' }, status.text),
            ),
            h('p', { class: 'monitor-meta' }, [m.target, m.schedule, rt ? `response ${rt}` : '', avg, pct, m.activationTarget ? `activates ${m.activationTarget}` : ''].filter(Boolean).join(' · ')),
            bars,
          ),
        );
      }
      list.append(section);
    }
  }

  async function pollMonitors() {
    try {
      const body = await getJson('/console/monitors');
      const receivedAt = Date.now();
      monitorsError = null;
      monitorsFetchedAt = receivedAt;
      const seen = new Set();
      for (const entry of body.watchdogs || []) {
        seen.add(entry.url);
        const before = watchdogs.get(entry.url);
        if (entry.ok) watchdogs.set(entry.url, { entry, receivedAt, lastOk: receivedAt });
        // An unreachable watchdog keeps its last monitors on the page, greyed, with their age.
        else watchdogs.set(entry.url, { entry: { ...entry, monitors: before ? before.entry.monitors : [], fetchedAt: before ? before.entry.fetchedAt : entry.fetchedAt }, receivedAt: before ? before.receivedAt : receivedAt, lastOk: before && before.lastOk });
      }
      for (const url of [...watchdogs.keys()]) if (!seen.has(url)) watchdogs.delete(url);
      if (watchdogs.size === 0) monitorsError = 'no watchdogs are configured (console.watchdogs)';
    } catch (err) {
      monitorsError = err.status === 404 ? 'GET /console/monitors is not served' : err.message;
      for (const w of watchdogs.values()) w.entry = { ...w.entry, ok: false, error: monitorsError };
    }
    renderMonitors();
  }

  // ---- loading and live streams ----------------------------------------------------------------

  async function loadTargets() {
    try {
      const body = await getJson('/v1/targets');
      for (const view of body.targets || []) {
        const t = targets.get(view.name);
        if (!t) continue;
        t.view = view;
        renderMeta(t);
        setActive(t, { target: view.name, ...view.active });
        if (view.pending) setActivation(t, view.pending);
      }
    } catch {
      // Without the targets API, the page still shows what GET /v1/active tells.
      for (const t of targets.values()) getJson(`/v1/active?target=${enc(t.name)}`).then((side) => setActive(t, side), () => undefined);
    }
  }

  async function loadLastActivation(t) {
    try {
      const body = await getJson(`/v1/activations?target=${enc(t.name)}`);
      const list = body.activations || [];
      let last = null;
      for (const a of list) if (!last || Date.parse(a.createdAt) >= Date.parse(last.createdAt)) last = a;
      if (last) setActivation(t, last);
      else renderTimeline(t);
    } catch {
      /* the streams and the next poll retry */
    }
  }

  /** An event stream that reconnects with backoff; `onEvent(type, data)` for each event. */
  function follow(key, url, types, onEvent, onOpen) {
    const s = { key, url, source: null, open: false, lostAt: Date.now(), attempt: 0, timer: null };
    streams.set(key, s);
    const connect = () => {
      s.source = new EventSource(url);
      s.source.onopen = () => {
        s.open = true;
        s.attempt = 0;
        s.lostAt = null;
        updateLive();
        if (onOpen) onOpen();
      };
      for (const type of types) {
        s.source.addEventListener(type, (event) => {
          try {
            onEvent(type, JSON.parse(event.data));
          } catch {
            /* a malformed event is skipped */
          }
        });
      }
      s.source.onerror = () => {
        // Reconnect on our own schedule, so that the page can tell how long it has been lost.
        s.source.close();
        // Just lost: the monitors are read again at once, so that they turn grey if the service is gone.
        if (s.open) void pollMonitors();
        if (s.open || s.lostAt === null) s.lostAt = Date.now();
        s.open = false;
        updateLive();
        const delay = Math.min(10000, 500 * 2 ** s.attempt++) * (0.75 + Math.random() * 0.5);
        s.timer = setTimeout(connect, delay);
      };
    };
    connect();
  }

  function updateLive() {
    const el = document.getElementById('live');
    const all = [...streams.values()];
    const lost = all.filter((s) => !s.open);
    // While a stream is lost, the active sides are greyed: they may be out of date.
    document.body.classList.toggle('offline', all.length === 0 || lost.length > 0);
    el.replaceChildren(h('span', { class: 'dot', 'aria-hidden': 'true' }), ' ');
    if (all.length > 0 && lost.length === 0) {
      el.className = 'live ok';
      el.append(h('span', { class: 'text' }, 'live'));
      el.dataset.state = 'live';
      return;
    }
    const since = Math.min(...lost.map((s) => s.lostAt || started));
    el.className = 'live lost';
    el.dataset.state = 'reconnecting';
    el.append(h('span', { class: 'text' }, `reconnecting (${formatMs(Date.now() - since)})`), h('span', { class: 'note' }, ' · what is shown may be out of date'));
  }

  function startStreams() {
    let first = true;
    follow(
      'activations',
      '/v1/activations/stream',
      ['activation'],
      (_type, activation) => {
        const t = targets.get(activation.target);
        if (!t) return;
        setActivation(t, activation);
        if (!streams.has(`active:${t.name}`)) getJson(`/v1/active?target=${enc(t.name)}`).then((side) => setActive(t, side), () => undefined);
      },
      () => {
        // After a gap, read again what may have changed meanwhile.
        if (!first) loadTargets();
        first = false;
      },
    );
    if (targets.size > MAX_ACTIVE_STREAMS) return;
    for (const t of targets.values()) {
      follow(`active:${t.name}`, `/v1/active/stream?target=${enc(t.name)}`, ['active'], (_type, side) => {
        const before = t.active;
        setActive(t, side);
        // A new epoch means a new activation: fetch it if its stream has not brought it yet.
        if (side.activationId && (!t.activation || t.activation.id !== side.activationId) && before && before.epoch !== side.epoch) {
          getJson(`/v1/activations/${enc(side.activationId)}`).then((a) => setActivation(t, a), () => undefined);
        }
      });
    }
  }

  function tick() {
    for (const el of document.querySelectorAll('[data-ago]')) el.textContent = ago(el.getAttribute('data-ago'));
    for (const el of document.querySelectorAll('[data-step-start]')) el.textContent = `${formatMs(Date.now() - Date.parse(el.getAttribute('data-step-start')))} so far`;
    updateLive();
  }

  function main() {
    initTargets();
    document.getElementById('signin').addEventListener('submit', signIn);
    document.getElementById('signout').addEventListener('click', signOut);
    document.getElementById('confirm-form').addEventListener('submit', submitConfirm);
    document.getElementById('confirm-form').addEventListener('input', confirmReady);
    document.getElementById('confirm-cancel').addEventListener('click', () => {
      pending = null;
      document.getElementById('confirm').close();
    });
    started = Date.now();
    startStreams();
    void loadTargets();
    for (const t of targets.values()) void loadLastActivation(t);
    void pollMonitors();
    setInterval(pollMonitors, MONITOR_POLL_MS);
    // A slow safety net besides the streams: votes and pending approvals change without an active-side event.
    setInterval(loadTargets, TARGET_POLL_MS);
    setInterval(tick, 1000);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
  else main();
})();
