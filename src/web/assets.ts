/**
 * The dashboard's two static files, shipped inside the package as strings (no build step,
 * no CDN): the stylesheet and the one script. The page loads them from /assets/ under a
 * CSP of 'self', so no inline script or style is ever needed.
 */
import { createHash } from 'node:crypto';

/** The stylesheet. */
export const CSS = `
:root{--bg:#f6f7fb;--fg:#1d2130;--muted:#6b7280;--line:#e3e6ef;--card:#fff;--accent:#6d4aff;--ok:#16a34a;--warn:#d97706;--bad:#dc2626;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg)}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.25rem;padding:.6rem 1.25rem;background:#1d1840;color:#fff}
header .brand{font-weight:700;letter-spacing:.02em;color:#fff;text-decoration:none}
header nav{display:flex;flex-wrap:wrap;gap:.15rem}
header nav a{color:#cfc8ff;text-decoration:none;padding:.3rem .6rem;border-radius:6px}
header nav a[aria-current=page]{background:var(--accent);color:#fff}
header nav a:hover{background:#2d2660}
.status{margin-left:auto;display:flex;gap:.6rem;align-items:center;font-size:.9em}
.pill{display:inline-block;padding:.1rem .55rem;border-radius:999px;font-size:.85em;font-weight:600;background:#e5e7eb;color:#1f2937}
.pill.active,.pill.completed,.pill.ok{background:#dcfce7;color:#166534}.pill.paused,.pill.delayed,.pill.warn{background:#fef3c7;color:#92400e}
.pill.inactive,.pill.failed,.pill.bad{background:#fee2e2;color:#991b1b}.pill.reserved,.pill.processing{background:#e0e7ff;color:#3730a3}
.pill.readonly{background:#374151;color:#fff}
main{max-width:1200px;margin:0 auto;padding:1rem 1.25rem 3rem}
h1{font-size:1.35rem;margin:.4rem 0 1rem}h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(145px,1fr));gap:.6rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.75rem 1rem}
.card .k{color:var(--muted);font-size:.8em;text-transform:uppercase;letter-spacing:.04em}.card .v{font-size:1.5rem;font-weight:650;margin-top:.15rem;overflow-wrap:anywhere}
.card .sub{color:var(--muted);font-size:.85em;overflow-wrap:anywhere}
.panel{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.75rem 1rem;margin:.75rem 0}
.scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:10px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.45rem .7rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.78em;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);background:#fafbff}
tr:last-child td{border-bottom:0}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td{overflow-wrap:break-word}
a{color:var(--accent)}
.empty{color:var(--muted);background:var(--card);border:1px dashed var(--line);border-radius:10px;padding:1rem}
.muted{color:var(--muted)}
pre{background:#0f1020;color:#e6e6f0;padding:.75rem;border-radius:8px;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere;max-height:28rem}
.chart{display:block;background:var(--card)}.chart .bar{fill:var(--accent)}.chart .axis{stroke:var(--line)}.chart-max{font-size:10px;fill:var(--muted)}
.meter-bg{fill:#eceef5}.meter-plain{fill:var(--accent)}.meter-ok{fill:var(--ok)}.meter-warn{fill:var(--warn)}.meter-bad{fill:var(--bad)}
form.inline{display:inline}
button{font:inherit;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:6px;padding:.2rem .65rem;cursor:pointer}
button.secondary{background:#fff;color:var(--accent)}button.danger{background:#fff;border-color:var(--bad);color:var(--bad)}
button:disabled{opacity:.5;cursor:wait}
.tabs{display:flex;flex-wrap:wrap;gap:.3rem;margin:.25rem 0 .75rem}.tabs a{padding:.25rem .7rem;border-radius:999px;background:#e9e7ff;text-decoration:none}
.tabs a[aria-current=page]{background:var(--accent);color:#fff}
.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin-bottom:.75rem}
.filters label{display:flex;flex-direction:column;font-size:.8em;color:var(--muted)}
input{font:inherit;padding:.25rem .45rem;border:1px solid var(--line);border-radius:6px;background:#fff}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;overflow-wrap:anywhere}
#flash{position:fixed;right:1rem;bottom:1rem;background:#1d1840;color:#fff;padding:.5rem .9rem;border-radius:8px;max-width:40ch}
#flash:empty{display:none}
.live{font-size:.8em;color:#a7f3d0}.live.off{color:#fca5a5}
.login{max-width:360px;margin:12vh auto;background:var(--card);border:1px solid var(--line);border-radius:12px;padding:1.5rem}
.login input{width:100%;margin:.5rem 0 1rem}
.score{display:grid;grid-template-columns:9rem 130px 3rem 1fr;gap:.5rem;align-items:center}
.signals td:nth-child(2){white-space:nowrap}
.group{margin:.75rem 0}.group summary{cursor:pointer}
.untrusted-url{font-family:ui-monospace,monospace}
`;

/** The script: live updates over SSE (re-rendering the page's live region) and actions as POSTs. */
export const JS = `'use strict';
(function () {
  var live = document.getElementById('live');
  var dot = document.getElementById('live-dot');
  var flash = document.getElementById('flash');
  var busy = false, again = false;
  function say(msg) { if (!flash) return; flash.textContent = msg; clearTimeout(say.t); say.t = setTimeout(function () { flash.textContent = ''; }, 4000); }
  function refresh() {
    if (!live) return;
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { credentials: 'same-origin', headers: { 'x-gitroast-live': '1' } })
      .then(function (r) { if (r.status === 401) { location.reload(); return null; } return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var next = doc.getElementById('live');
        if (!next) return;
        var open = {};
        live.querySelectorAll('details[id][open]').forEach(function (d) { open[d.id] = true; });
        live.replaceChildren.apply(live, Array.prototype.slice.call(document.adoptNode(next).childNodes));
        live.querySelectorAll('details[id]').forEach(function (d) { if (open[d.id]) d.open = true; });
        var head = doc.getElementById('status'), mine = document.getElementById('status');
        if (head && mine) mine.replaceWith(document.adoptNode(head));
        document.documentElement.dataset.refreshed = String(Date.now());
      })
      .catch(function () {})
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  if (live && window.EventSource) {
    var es = new EventSource('/events');
    es.addEventListener('refresh', refresh);
    es.onopen = function () { if (dot) { dot.textContent = '● live'; dot.className = 'live'; } };
    es.onerror = function () { if (dot) { dot.textContent = '○ reconnecting'; dot.className = 'live off'; } };
  }
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== 'post' || !form.hasAttribute('data-action')) return;
    e.preventDefault();
    var buttons = form.querySelectorAll('button');
    buttons.forEach(function (b) { b.disabled = true; });
    fetch(form.action, { method: 'POST', credentials: 'same-origin', headers: { accept: 'application/json' }, body: new URLSearchParams(new FormData(form)) })
      .then(function (r) { return r.json().catch(function () { return { message: 'HTTP ' + r.status }; }); })
      .then(function (body) { say(body.message || body.error || 'done'); refresh(); })
      .catch(function () { say('request failed'); })
      .then(function () { buttons.forEach(function (b) { b.disabled = false; }); });
  });
})();
`;

/** A short content hash, for cache-busting asset URLs (the files are served immutable). */
export function assetVersion(body: string): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 10);
}
