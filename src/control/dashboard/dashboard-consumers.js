/* global document, sessionStorage */
// The dashboard's "Calls by consumer" table (GET /consumers/calls, the front door's figures on this
// instance): polled every 2 s with the token dashboard.js keeps in this tab; hidden where the
// security feature is not installed or no token is given yet. Every value is put in as text.
(function () {
  'use strict';
  var POLL_MS = 2000;
  var $ = function (id) { return document.getElementById(id); };

  function cell(text, attrs) {
    var td = document.createElement('td');
    td.textContent = text;
    for (var k in attrs || {}) td.setAttribute(k, attrs[k]);
    return td;
  }

  function render(list) {
    var body = $('consumers');
    while (body.firstChild) body.removeChild(body.firstChild);
    list.forEach(function (c) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-consumer', c.consumer);
      var top = c.operations.slice(0, 3).map(function (o) { return o.operation + ' ' + o.calls; }).join(', ');
      [
        cell(c.consumer),
        cell(String(c.calls), { 'data-testid': 'consumer-calls' }),
        cell(String(c.ok)),
        cell(String(c.denied), c.denied ? { class: 'bad' } : {}),
        cell(String(c.limited), c.limited ? { class: 'bad' } : {}),
        cell(String(c.clientErrors)),
        cell(String(c.failed), c.failed ? { class: 'bad' } : {}),
        cell(top, { class: 'small' }),
      ].forEach(function (td) { tr.appendChild(td); });
      body.appendChild(tr);
    });
    if (!list.length) {
      var empty = document.createElement('tr');
      empty.appendChild(cell('No calls yet.', { class: 'small', colspan: '8' }));
      body.appendChild(empty);
    }
  }

  function refresh() {
    var token = sessionStorage.getItem('ficus-admin-token') || '';
    if (!token || $('app').hidden) return;
    fetch('/consumers/calls', { headers: { authorization: 'Bearer ' + token } })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (data) {
        $('consumers-section').hidden = !data;
        if (data) render(data.consumers);
      })
      .catch(function () { $('consumers-section').hidden = true; });
  }

  refresh();
  setInterval(refresh, POLL_MS);
})();
