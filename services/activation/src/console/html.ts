/** The console's HTML shell, rendered on the server: the page's structure, the targets' names, no data. */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for an HTML text node or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export interface ShellOptions {
  /** The configured targets, in config order. */
  targets: readonly string[];
  /** The service's version, shown in the footer. */
  version: string;
}

function targetSection(name: string, index: number): string {
  const n = escapeHtml(name);
  const id = `target-${index}`;
  return `
<article class="target" id="${id}" data-target="${n}" aria-labelledby="${id}-name">
  <header class="target-head">
    <h3 id="${id}-name" class="target-name">${n}</h3>
    <p class="active-side unknown" data-part="active" aria-live="polite"><span class="badge">unknown</span> <span class="detail">loading…</span></p>
  </header>
  <p class="target-meta" data-part="meta"></p>
  <div class="actions" data-part="actions" hidden></div>
  <section class="incident" aria-labelledby="${id}-incident">
    <h4 id="${id}-incident">Incident</h4>
    <div data-part="timeline"><p class="muted">No incident recorded.</p></div>
  </section>
</article>`;
}

/** The whole page; app.js fills it in from the APIs and keeps it live. */
export function renderShell({ targets, version }: ShellOptions): string {
  const sections = targets.length === 0 ? '<p class="muted">No targets are configured.</p>' : targets.map(targetSection).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Vigil console</title>
<link rel="stylesheet" href="/console/app.css">
<script src="/console/app.js" defer></script>
</head>
<body>
<header class="top">
  <h1>Vigil console</h1>
  <p id="live" class="live connecting" role="status" aria-live="polite"><span class="dot" aria-hidden="true"></span> <span class="text">connecting…</span></p>
  <form id="signin" class="signin" autocomplete="off">
    <label for="token">Operator token</label>
    <input id="token" name="token" type="password" autocomplete="off" spellcheck="false">
    <button type="submit" id="signin-button">Sign in</button>
    <span id="signin-status" class="muted" role="status"></span>
  </form>
  <p id="operator" class="operator" hidden><span class="text"></span> <button type="button" id="signout">Sign out</button></p>
</header>
<main>
<section id="targets" aria-labelledby="targets-heading">
  <h2 id="targets-heading">Targets</h2>
  ${sections}
</section>
<section id="monitors" aria-labelledby="monitors-heading">
  <h2 id="monitors-heading">Monitors</h2>
  <p class="legend"><span class="bar-key up">up</span> <span class="bar-key down">down</span> <span class="bar-key maintenance">maintenance</span> <span class="bar-key paused">paused</span> <span class="bar-key unknown">no data / stale</span> · bars: last 24 h in 15-minute buckets</p>
  <div id="monitor-list"><p class="muted">Loading…</p></div>
</section>
</main>
<dialog id="confirm" aria-labelledby="confirm-title">
  <form id="confirm-form" method="dialog">
    <h2 id="confirm-title">Confirm</h2>
    <div id="confirm-body"></div>
    <label for="confirm-reason">Reason (recorded in the audit log)</label>
    <textarea id="confirm-reason" name="reason" rows="2" maxlength="1000" required></textarea>
    <label for="confirm-name" id="confirm-name-label">Type the target's name to confirm</label>
    <input id="confirm-name" name="name" autocomplete="off" spellcheck="false" required>
    <p id="confirm-error" class="error" role="alert"></p>
    <div class="dialog-buttons">
      <button type="button" id="confirm-cancel">Back</button>
      <button type="submit" id="confirm-ok" class="danger" disabled>Confirm</button>
    </div>
  </form>
</dialog>
<footer><p class="muted">Vigil activation ${escapeHtml(version)} · reads are public; actions need an operator token, kept in this page's memory only.</p></footer>
</body>
</html>
`;
}
