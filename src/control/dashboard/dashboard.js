/* global document, sessionStorage, location, history */
// The migration dashboard: polls the admin API every 2 s with the token given on the page. Every
// value from the API is put in the page as text (never as HTML).
(function () {
  'use strict';
  var POLL_MS = 2000;
  var token = sessionStorage.getItem('ficus-admin-token') || '';
  var selected = sessionStorage.getItem('ficus-selected-route') || '';
  var timer = null;
  var $ = function (id) { return document.getElementById(id); };

  var fromHash = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (fromHash) {
    token = decodeURIComponent(fromHash[1]);
    sessionStorage.setItem('ficus-admin-token', token);
    history.replaceState(null, '', location.pathname);
  }

  function el(tag, attrs) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'class') node.className = attrs[k];
      else if (k === 'style') node.setAttribute('style', attrs[k]);
      else node.setAttribute(k, attrs[k]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return node;
  }
  function replace(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    for (var i = 1; i < arguments.length; i++) if (arguments[i]) node.appendChild(arguments[i]);
  }
  function pct(x) { return x === null || x === undefined ? '–' : x + '%'; }
  function ms(x) { return x === null || x === undefined ? '–' : x + ' ms'; }

  function api(method, path, body) {
    var init = { method: method, headers: { authorization: 'Bearer ' + token } };
    if (body !== undefined) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (res) {
      return res.text().then(function (text) {
        var data = text ? JSON.parse(text) : undefined;
        if (!res.ok) {
          var e = new Error((data && (data.detail || data.title)) || ('HTTP ' + res.status));
          e.status = res.status;
          throw e;
        }
        return data;
      });
    });
  }

  function showLogin(message) {
    $('app').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('live').textContent = 'not connected';
    if (timer) { clearInterval(timer); timer = null; }
  }

  function backendCell(b) {
    if (!b) return el('td', { class: 'small', text: 'none' });
    var f = b.figures;
    var health = b.up === false ? el('span', { class: 'bad', text: ' DOWN' }) : b.circuit === 'open' ? el('span', { class: 'bad', text: ' circuit open' }) : null;
    var errCls = f.errorRate5m !== null && f.errorRate5m > 0 ? 'bad' : '';
    return el('td', {},
      el('div', {}, b.adapter, health),
      el('div', { class: 'small' }, f.calls + ' calls · errors ', el('span', { class: errCls, 'data-testid': 'error-rate', text: pct(f.errorRate5m) }), ' · p50 ' + ms(f.p50Ms) + ' · p95 ' + ms(f.p95Ms)));
  }

  function renderOverview(o, d) {
    var cards = [
      ['Progress', pct(o.progress), 'progress'],
      ['Modern share of calls, last ' + ago(d.window.splitMs / 1000), pct(d.split.modernShare), 'modern-share'],
      ['Modern share since start', pct(o.modernShare), 'modern-share-since-start'],
      ['Routes', String(o.routes), 'route-count'],
    ];
    ['legacy', 'shadow', 'canary', 'fallback', 'modern'].forEach(function (m) { cards.push([m, String(o.byMode[m] || 0), 'by-mode-' + m]); });
    replace.apply(null, [$('overview')].concat(cards.map(function (c) {
      return el('div', { class: 'card' }, el('div', { class: 'small', text: c[0] }), el('div', { class: 'n', 'data-testid': c[2], text: c[1] }));
    })));
    $('progress-bar').style.width = o.progress + '%';
  }

  // How long ago, in words: 40 s, 12 min, 5 h, 3 d.
  function ago(seconds) {
    if (seconds === null || seconds === undefined) return '–';
    if (seconds < 90) return Math.round(seconds) + ' s';
    if (seconds < 5400) return Math.round(seconds / 60) + ' min';
    if (seconds < 172800) return Math.round(seconds / 3600) + ' h';
    return Math.round(seconds / 86400) + ' d';
  }

  // The traffic split over the window (GET /dashboard), or "no modern backend"; since start in small print.
  function splitCell(r, s) {
    if (!r.modern) return el('td', { class: 'small', 'data-testid': 'modern-share', text: 'legacy only · no modern backend' });
    var share = s ? s.split.modernShare : r.modernShare;
    var calls = s ? s.split.legacy + s.split.modern : 0;
    var modernPart = calls ? (s.split.modern / calls) * 100 : 0;
    var bar = el('div', { class: 'split', title: pct(share) + ' modern' },
      el('div', { class: 'l', style: 'width:' + (calls ? 100 - modernPart : 0) + '%' }),
      el('div', { class: 'm', style: 'width:' + modernPart + '%' }));
    var windowText = s ? calls + (calls === 1 ? ' call' : ' calls') + ' in the last ' + ago(s.split.windowMs / 1000) + (s.split.sinceChange ? ' (since it became ' + s.state + ')' : '') + ' · since start ' + pct(s.sinceStart.modernShare) : '';
    return el('td', {},
      el('div', { class: 'small', 'data-testid': 'modern-share', text: 'modern ' + pct(share) + (r.fallbacks ? ' · ' + r.fallbacks + ' fallbacks' : '') }),
      bar,
      el('div', { class: 'small', 'data-testid': 'split-window', text: windowText }));
  }

  function shadowCell(r) {
    if (!r.modern) return el('td', { class: 'small', 'data-testid': 'no-modern', text: 'no modern backend' });
    return el('td', {}, el('div', { 'data-testid': 'match-rate', text: pct(r.shadow.matchRate) }), el('div', { class: 'small', text: r.shadow.compared + ' compared · ' + r.shadow.mismatched + ' mismatched' }));
  }

  function reconciliationCell(r) {
    var rec = r.reconciliation;
    return el('td', { title: rec ? 'ficus reconcile, finished ' + rec.finishedAt : 'ficus reconcile has not run for this route' },
      el('div', { 'data-testid': 'parity', text: rec ? pct(rec.parity) : '–' }),
      el('div', { class: 'small', text: rec ? rec.keys + ' keys · ' + (rec.keys - rec.equal) + ' not equal · ' + rec.finishedAt.slice(0, 16).replace('T', ' ') : 'none yet' }));
  }

  function renderRoutes(routes, dashboard) {
    var splits = {};
    ((dashboard && dashboard.routes) || []).forEach(function (s) { splits[s.operationId] = s; });
    var rows = routes.map(function (r) {
      var tr = el('tr', { class: 'route' + (r.operationId === selected ? ' selected' : ''), 'data-route': r.operationId },
        el('td', {}, el('div', { text: r.operationId }), el('div', { class: 'small', text: r.method + ' ' + r.path })),
        el('td', {}, el('span', { class: 'mode mode-' + r.mode, 'data-testid': 'mode', text: r.state })),
        splitCell(r, splits[r.operationId]),
        backendCell(r.legacy),
        backendCell(r.modern),
        shadowCell(r),
        reconciliationCell(r),
        el('td', { class: 'small', text: r.gates ? (r.gates.paused ? 'paused' : (r.gates.waitingFor || 'active')) : '–' }));
      tr.addEventListener('click', function () { select(r.operationId); });
      return tr;
    });
    replace.apply(null, [$('routes')].concat(rows));
    lastRoutes = routes;
    var current = routes.filter(function (r) { return r.operationId === selected; })[0];
    if (current) renderDetail(current);
    else $('detail').hidden = true;
  }

  var formFor = '';
  var lastRoutes = [];
  function renderDetail(r) {
    $('detail').hidden = false;
    if (formFor !== r.operationId) {
      // A newly selected route: start the form from its current state.
      formFor = r.operationId;
      $('switch-mode').value = r.mode;
      $('switch-percent').value = r.mode === 'canary' ? String(r.percent) : '';
    }
    $('detail-title').textContent = r.operationId + ' — ' + r.state;
    var ignore = r.compare.ignore.config.concat(r.compare.ignore.runtime);
    var parts = [
      el('p', { class: 'small', text: 'In ' + r.state + ' since ' + r.changedAt + ', by ' + r.changedBy + '.' + (r.canary.key ? ' Canary key: ' + r.canary.key + '.' : '') }),
      ignore.length ? el('p', { class: 'small', text: 'Ignored in comparisons: ' + ignore.join(', ') }) : null,
    ];
    if (r.shadow.noisy.length) {
      var btn = el('button', { type: 'button', class: 'secondary', 'data-testid': 'ignore-noisy', text: 'Ignore noisy paths' });
      btn.addEventListener('click', function () {
        var reason = $('switch-reason').value.trim();
        if (!reason) { message('error', 'Give a reason first (it goes to the audit log).'); return; }
        api('POST', '/routes/' + encodeURIComponent(r.operationId) + '/ignore', { noisy: true, reason: reason })
          .then(function () { message('ok', 'Noisy paths ignored.'); refresh(); })
          .catch(function (e) { message('error', e.message); });
      });
      parts.push(el('p', { class: 'small' }, 'Noisy (differ between two legacy answers): ' + r.shadow.noisy.map(function (n) { return n.path; }).join(', ') + ' ', btn));
    }
    if (r.gates) {
      parts.push(el('div', { class: 'small' },
        el('div', { text: 'Gates: ' + (r.gates.paused ? 'paused' : 'active') }),
        r.gates.steps.length ? el('div', { text: 'Steps: ' + r.gates.steps.join('; ') }) : null,
        r.gates.rollback ? el('div', { text: 'Rollback ' + r.gates.rollback }) : null,
        r.gates.waitingFor ? el('div', { text: 'Next: ' + r.gates.waitingFor }) : null));
      $('gates-button').hidden = false;
      $('gates-button').textContent = r.gates.paused ? 'Resume gates' : 'Pause gates';
      $('gates-button').dataset.paused = String(r.gates.paused);
    } else {
      $('gates-button').hidden = true;
    }
    replace.apply(null, [$('detail-body')].concat(parts));
  }

  function renderMismatches(list) {
    if (!list.length) { replace($('mismatches'), el('p', { class: 'small', text: 'No mismatches recorded.' })); return; }
    replace.apply(null, [$('mismatches')].concat(list.map(function (m) {
      var rows = m.differences.map(function (d) {
        return el('tr', {}, el('td', { text: d.path + (d.noisy ? ' (noisy)' : '') }), el('td', { text: JSON.stringify(d.legacy) }), el('td', { text: JSON.stringify(d.modern) }), el('td', { text: d.kind }));
      });
      return el('div', { class: 'mismatch', 'data-testid': 'mismatch' },
        el('div', { class: 'small', text: m.at + ' · ' + m.request + ' · legacy ' + m.legacyStatus + ', modern ' + m.modernStatus + ' · request ' + m.requestId }),
        el('table', { class: 'diff' }, el('thead', {}, el('tr', {}, el('th', { text: 'path' }), el('th', { text: 'legacy' }), el('th', { text: 'modern' }), el('th', { text: 'kind' }))), el.apply(null, ['tbody', {}].concat(rows))));
    })));
  }

  // Requests per minute as bars (failures in red), oldest left; the current minute last.
  function spark(series) {
    var NS = 'http://www.w3.org/2000/svg';
    var w = 2, h = 28;
    var max = 1;
    series.forEach(function (p) { if (p.calls > max) max = p.calls; });
    var svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('width', String(series.length * w));
    svg.setAttribute('height', String(h));
    var title = document.createElementNS(NS, 'title');
    title.textContent = 'requests per minute over the last ' + series.length + ' minutes (at most ' + max + ')';
    svg.appendChild(title);
    series.forEach(function (p, i) {
      [['c', p.calls], ['e', p.errors]].forEach(function (b) {
        if (!b[1]) return;
        var bh = Math.max(1, Math.round((b[1] / max) * h));
        var rect = document.createElementNS(NS, 'rect');
        rect.setAttribute('class', b[0]);
        rect.setAttribute('x', String(i * w));
        rect.setAttribute('y', String(h - bh));
        rect.setAttribute('width', String(w - 0.5));
        rect.setAttribute('height', String(bh));
        svg.appendChild(rect);
      });
    });
    return svg;
  }

  function totalsText(t) {
    return t.calls + ' calls · errors ' + pct(t.errorRate) + ' · p50 ' + ms(t.p50Ms) + ' · p95 ' + ms(t.p95Ms);
  }

  // Per backend: health, circuits, the last hour per minute, and how fresh its data is (GET /dashboard).
  function renderBackends(d) {
    $('backends-scope').textContent =
      d.scope.traffic === 'workers' ? '· traffic of this instance\'s ' + d.scope.workers + ' workers (' + d.scope.instance + '), per minute' : '· traffic of this instance (' + d.scope.instance + '), per minute';
    replace.apply(null, [$('backends')].concat(d.backends.map(function (b) {
      var notClosed = b.circuits.filter(function (c) { return c.state !== 'closed' && c.state !== 'none'; });
      var circuits = b.circuits.length === 0 ? 'no routes'
        : notClosed.length ? notClosed.map(function (c) { return c.operation + ' ' + c.state; }).join(', ')
          : b.circuits.every(function (c) { return c.state === 'none'; }) ? 'no circuit breaker' : 'circuits closed';
      var exports = b.freshness.exports.map(function (x) { return el('div', { class: 'small', 'data-testid': 'export-age', text: 'export for ' + x.operation + ': ' + ago(x.ageSeconds) + ' old' }); });
      return el('tr', { 'data-backend': b.adapter },
        el('td', {}, el('div', { text: b.adapter }), el('div', { class: 'small', text: b.kind + (b.role ? ' · ' + b.role : '') })),
        el('td', {},
          el('div', { 'data-testid': 'health', class: b.up === false ? 'bad' : '', text: b.up === null ? 'not checked yet' : b.up ? 'up' : 'DOWN' + (b.detail ? ': ' + b.detail : '') }),
          el('div', { 'data-testid': 'circuits', class: notClosed.length ? 'bad' : 'small', text: circuits })),
        el('td', {}, spark(b.series)),
        el('td', { class: 'small', 'data-testid': 'last-hour', text: totalsText(b.lastHour) }),
        el('td', { class: 'small', 'data-testid': 'last-5m', text: totalsText(b.last5m) }),
        el.apply(null, ['td', {}, el('div', { class: 'small', 'data-testid': 'last-success', text: 'last answer ' + (b.freshness.lastSuccessAgeSeconds === null ? 'none since start' : ago(b.freshness.lastSuccessAgeSeconds) + ' ago') })].concat(exports)));
    })));
  }

  // Outbox, dead letters, recorder, screen pools (GET /dashboard); a card turns red when something waits or was lost.
  function renderQueues(q) {
    var cards = [];
    function card(id, title, n, small, warn) {
      cards.push(el('div', { class: 'card' + (warn ? ' warn' : ''), 'data-queue': id }, el('div', { class: 'small', text: title }), el('div', { class: 'n', 'data-testid': 'queue-' + id, text: String(n) }), el('div', { class: 'small', text: small })));
    }
    if (q.outbox) card('outbox', 'Outbox pending', q.outbox.pending, q.outbox.pending ? 'oldest ' + ago(q.outbox.oldestAgeSeconds) : 'empty', q.outbox.pending > 0);
    if (q.dlq) card('dlq', 'Dead letters', q.dlq.count, q.dlq.newest ? 'newest ' + ago(q.dlq.newest.ageSeconds) + ' ago: ' + q.dlq.newest.operation + ' (' + q.dlq.newest.reason + ')' : 'none', q.dlq.count > 0);
    if (q.recorder) card('recorder', 'Recorder queue', q.recorder.queued + ' / ' + q.recorder.queueLimit, q.recorder.dropped + ' dropped · ' + q.recorder.recording + ' routes recording', q.recorder.dropped > 0);
    q.screenPools.forEach(function (p) { card('pool-' + p.adapter, 'Browser pool ' + p.adapter, p.inUse + ' in use', p.idle + ' idle · ' + p.waiting + ' waiting', p.waiting > 0); });
    q.errors.forEach(function (e) { cards.push(el('div', { class: 'card warn' }, el('div', { class: 'bad', text: e }))); });
    replace.apply(null, [$('queues')].concat(cards));
    $('queues-scope').textContent = '· outbox and dead letters: every instance sharing the state store; recorder and pools: this instance';
  }

  function renderAudit(entries) {
    replace.apply(null, [$('audit')].concat(entries.map(function (e) {
      return el('tr', {}, el('td', { class: 'small', text: e.at }), el('td', { text: e.actor + (e.automatic ? ' (auto)' : '') }), el('td', { text: e.operationId }),
        el('td', { text: e.action + ': ' + (e.from || '–') + ' → ' + (e.to || '–') }), el('td', { text: e.reason }));
    })));
  }

  // The cache feature's figures per route (GET /cache); the section stays hidden where it is not installed.
  function renderCache(c) {
    if (!c || !c.routes) { $('cache-section').hidden = true; return; }
    $('cache-section').hidden = false;
    $('cache-redis').textContent = (c.redis === null ? '· memory only' : c.redis.ok ? '· Redis shared' : '· ' + (c.redis.detail || 'Redis down')) +
      (c.cluster && c.cluster.led + c.cluster.followed + c.cluster.fellBack > 0
        ? ' · across instances: ' + c.cluster.led + ' called, ' + c.cluster.followed + ' answered by another, ' + c.cluster.fellBack + ' fell back'
        : '');
    $('cache-redis').className = c.redis && !c.redis.ok ? 'bad' : 'small';
    function dur(ms) { return ms === undefined || ms === null ? '–' : ms >= 3600000 && ms % 3600000 === 0 ? ms / 3600000 + 'h' : ms >= 60000 && ms % 60000 === 0 ? ms / 60000 + 'm' : ms >= 1000 && ms % 1000 === 0 ? ms / 1000 + 's' : ms + 'ms'; }
    replace.apply(null, [$('cache')].concat(c.routes.map(function (r) {
      var f = r.figures;
      var cfg = r.config.ttl === undefined ? 'coalescing only' : dur(r.config.ttl) + ' / swr ' + dur(r.config.staleWhileRevalidate) + ' / sie ' + dur(r.config.staleIfError);
      return el('tr', { 'data-cache-route': r.operationId },
        el('td', { text: r.operationId }), el('td', { class: 'small', text: cfg }),
        el('td', { 'data-testid': 'cache-hits', text: String(f.hits) }), el('td', { text: String(f.misses) }),
        el('td', { 'data-testid': 'cache-stale', text: String(f.stale) }), el('td', { 'data-testid': 'cache-coalesced', text: String(f.coalesced) }),
        el('td', { text: String(f.evictions) }), el('td', { text: String(r.entries) }), el('td', { text: String(r.bytes) }),
        el('td', r.servingStale ? { class: 'bad', 'data-testid': 'cache-state', text: 'serving stale (backend failing)' } : { class: 'small', 'data-testid': 'cache-state', text: 'ok' }));
    })));
  }

  function message(kind, text) {
    $('message').className = kind;
    $('message').textContent = text;
  }

  function select(op) {
    selected = op;
    sessionStorage.setItem('ficus-selected-route', op);
    message('', '');
    // The form starts from the route's state at once, not when the refresh comes back: a choice made
    // meanwhile would be overwritten.
    var known = lastRoutes.filter(function (r) { return r.operationId === op; })[0];
    if (known) renderDetail(known);
    refresh();
  }

  function refresh() {
    var calls = [api('GET', '/overview'), api('GET', '/routes'), api('GET', '/audit?limit=15'), api('GET', '/dashboard')];
    if (selected) calls.push(api('GET', '/routes/' + encodeURIComponent(selected) + '/mismatches?limit=5').catch(function () { return { mismatches: [] }; }));
    return Promise.all(calls).then(function (r) {
      $('login').hidden = true;
      $('app').hidden = false;
      renderOverview(r[0], r[3]);
      renderRoutes(r[1].routes, r[3]);
      renderAudit(r[2].entries);
      renderQueues(r[3].queues);
      renderBackends(r[3]);
      if (r[4]) renderMismatches(r[4].mismatches);
      api('GET', '/cache').then(renderCache, function () { renderCache(null); });
      $('live').textContent = 'live · updated ' + new Date().toLocaleTimeString();
    }).catch(function (e) {
      if (e.status === 401) showLogin(e.message);
      else $('live').textContent = 'update failed: ' + e.message;
    });
  }

  function start() {
    refresh();
    if (!timer) timer = setInterval(refresh, POLL_MS);
  }

  $('login-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    token = $('token').value.trim();
    sessionStorage.setItem('ficus-admin-token', token);
    start();
  });

  $('switch-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var mode = $('switch-mode').value;
    var body = { mode: mode, reason: $('switch-reason').value };
    if (mode === 'canary') body.percent = $('switch-percent').value === '' ? undefined : Number($('switch-percent').value);
    api('PUT', '/routes/' + encodeURIComponent(selected) + '/mode', body)
      .then(function (r) {
        message('ok', r.changed ? 'Switched ' + selected + ': ' + r.from + ' → ' + r.to : selected + ' is already ' + r.to);
        $('switch-reason').value = '';
        refresh();
      })
      .catch(function (e) { message('error', 'Not switched: ' + e.message); });
  });

  $('gates-button').addEventListener('click', function () {
    var reason = $('switch-reason').value.trim();
    if (!reason) { message('error', 'Give a reason first (it goes to the audit log).'); return; }
    var paused = $('gates-button').dataset.paused === 'true';
    api('PUT', '/routes/' + encodeURIComponent(selected) + '/gates', { paused: !paused, reason: reason })
      .then(function () { message('ok', paused ? 'Gates resumed.' : 'Gates paused.'); refresh(); })
      .catch(function (e) { message('error', e.message); });
  });

  if (token) start();
  else showLogin('');
})();
