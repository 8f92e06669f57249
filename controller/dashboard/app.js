// fleet's dashboard: views by the URL's #fragment, data from /api/v1/.
// Every value reaches the page as text (textContent), never as HTML.
'use strict';

const app = () => document.getElementById('app');
let live = null; // the open EventSource of a rollout view

// el('td', {class: 'x'}, 'text', child...) builds an element from text and nodes.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return e;
}

async function get(path) {
  const res = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (res.status === 401) {
    window.location.assign('/signin');
    throw new Error('signed out');
  }
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

// "ROLLOUT_ROLLED_BACK" -> "rolled_back"
const stateName = (s, prefix) => String(s || '').replace(prefix, '').toLowerCase();
const rolloutState = (r) => stateName(r.state, 'ROLLOUT_');
const tenantState = (t) => stateName(t.state, 'TENANT_');
const terminal = (s) => ['succeeded', 'rolled_back', 'aborted', 'halted', 'rollback_failed'].includes(s);

function show(...nodes) {
  const root = app();
  root.replaceChildren(...nodes);
}

function failed(err) {
  show(el('p', { class: 'error', id: 'error' }, 'Could not load: ' + err.message));
}

function card(label, n, id) {
  return el('div', { class: 'card', id }, el('div', { class: 'n' }, n), el('div', { class: 'muted' }, label));
}

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}

// ---- Fleet ----------------------------------------------------------------

async function fleetView() {
  const status = await get('/api/v1/status');
  const tenants = status.tenants || [];
  const byState = {};
  const byRevision = {};
  for (const t of tenants) {
    byState[t.state] = (byState[t.state] || 0) + 1;
    const rev = (t.tenant.heads || []).join(',') || 'base';
    byRevision[rev] = (byRevision[rev] || 0) + 1;
  }
  const stateCards = el('div', { class: 'cards', id: 'counts' },
    card('tenants', tenants.length, 'count-all'),
    ...Object.keys(byState).sort().map((s) => card(s, byState[s], 'count-' + s)));
  const revisionRows = Object.keys(byRevision).sort().map((r) =>
    el('tr', {}, el('td', {}, r), el('td', {}, byRevision[r])));

  const idFilter = el('input', { type: 'search', placeholder: 'tenant id', id: 'filter-id' });
  const labelFilter = el('input', { type: 'search', placeholder: 'label k=v', id: 'filter-label' });
  const stateFilter = el('select', { id: 'filter-state' }, el('option', { value: '' }, 'every state'),
    ...Object.keys(byState).sort().map((s) => el('option', { value: s }, s)));
  const grid = el('div', { class: 'grid', id: 'tenants' });
  const draw = () => {
    const id = idFilter.value.trim();
    const [lk, lv] = labelFilter.value.split('=').map((x) => (x || '').trim());
    const st = stateFilter.value;
    grid.replaceChildren(...tenants.filter((t) => {
      if (id && !t.tenant.id.includes(id)) return false;
      if (st && t.state !== st) return false;
      if (lk && (t.tenant.labels || {})[lk] !== lv) return false;
      return true;
    }).map((t) => {
      const behind = t.behind > 0 ? ' · ' + t.behind + ' behind' : '';
      return el('a', { class: 'tile s-' + t.state, href: '#/tenant/' + encodeURIComponent(t.tenant.id),
        'data-tenant': t.tenant.id, 'data-state': t.state },
      el('div', { class: 'id' }, t.tenant.id), el('div', { class: 'st' }, t.state + behind));
    }));
  };
  for (const f of [idFilter, labelFilter]) f.addEventListener('input', draw);
  stateFilter.addEventListener('change', draw);
  draw();
  show(el('h1', {}, 'Fleet'), el('p', { class: 'muted', id: 'summary' }, status.summary || ''),
    stateCards,
    el('h2', {}, 'By revision'),
    el('table', { id: 'revisions' }, el('tr', {}, el('th', {}, 'heads'), el('th', {}, 'tenants')), ...revisionRows),
    el('h2', {}, 'Tenants'), el('div', { class: 'filters' }, idFilter, labelFilter, stateFilter), grid);
}

// ---- Tenant ---------------------------------------------------------------

async function tenantView(id) {
  const body = await get('/api/v1/tenants/' + encodeURIComponent(id));
  const row = body.status.tenants[0];
  const t = row.tenant;
  const labels = Object.entries(t.labels || {}).map(([k, v]) => k + '=' + v).join(', ') || '-';
  const driftCell = el('dd', { id: 'schema-drift' });
  const checkDrift = el('button', { type: 'button', id: 'check-drift' }, 'Check now');
  checkDrift.addEventListener('click', async () => {
    driftCell.replaceChildren('checking…');
    try {
      const d = await get('/api/v1/tenants/' + encodeURIComponent(id) + '/diff');
      const diffs = d.differences || [];
      driftCell.replaceChildren(diffs.length === 0 ? 'none: the schema is what its revisions build'
        : el('ul', {}, ...diffs.map((x) => el('li', {}, x))));
    } catch (err) {
      driftCell.replaceChildren(el('span', { class: 'error' }, err.message));
    }
  });
  driftCell.replaceChildren('not checked ', checkDrift);
  const details = el('dl', { id: 'tenant' },
    el('dt', {}, 'state'), el('dd', {}, el('span', { class: 'badge b-' + row.state }, row.state)),
    el('dt', {}, 'revision'), el('dd', {}, (t.heads || []).join(', ') || 'base'),
    el('dt', {}, 'behind head'), el('dd', {}, row.behind < 0 ? '?' : row.behind),
    el('dt', {}, 'labels'), el('dd', {}, labels),
    el('dt', {}, 'agent'), el('dd', {}, t.agent),
    el('dt', {}, 'last seen'), el('dd', {}, t.last_seen || '-'),
    el('dt', {}, 'drifted scripts'), el('dd', {}, (t.drifted_revisions || []).join(', ') || 'none'),
    el('dt', {}, 'schema drift'), driftCell,
    el('dt', {}, 'error'), el('dd', {}, t.error || (t.dirty ? 'dirty at ' + t.dirty_revision : '-')));
  const history = (body.history.entries || []).map((e) => el('tr', {},
    el('td', {}, e.at), el('td', {}, e.action),
    el('td', {}, e.rollout_id ? el('a', { href: '#/rollout/' + encodeURIComponent(e.rollout_id) }, e.rollout_id) : '-'),
    el('td', {}, e.actor), el('td', { class: 'err' }, e.detail)));
  show(el('h1', {}, 'Tenant ' + t.id), details, el('h2', {}, 'History across rollouts'),
    el('table', { id: 'history' }, el('tr', {}, el('th', {}, 'at'), el('th', {}, 'what'), el('th', {}, 'rollout'),
      el('th', {}, 'who'), el('th', {}, 'detail')), ...history));
}

// ---- Rollouts -------------------------------------------------------------

async function rolloutsView() {
  const body = await get('/api/v1/rollouts');
  const rows = (body.rollouts || []).map((r) => el('tr', { 'data-rollout': r.id },
    el('td', {}, el('a', { href: '#/rollout/' + encodeURIComponent(r.id) }, r.id)),
    el('td', {}, el('span', { class: 'badge b-' + rolloutState(r) }, rolloutState(r))),
    el('td', {}, r.spec.target), el('td', {}, Math.min(r.wave, r.waves) + '/' + r.waves),
    el('td', {}, r.created_at), el('td', {}, r.spec.actor)));
  show(el('h1', {}, 'Rollouts'), rows.length === 0 ? el('p', { class: 'muted' }, 'No rollouts yet.')
    : el('table', { id: 'rollouts' }, el('tr', {}, el('th', {}, 'rollout'), el('th', {}, 'state'), el('th', {}, 'target'),
      el('th', {}, 'wave'), el('th', {}, 'created'), el('th', {}, 'actor')), ...rows));
}

function drawRollout(r) {
  const state = rolloutState(r);
  const tenants = r.tenants || [];
  const waves = {};
  for (const t of tenants) {
    (waves[t.wave] = waves[t.wave] || []).push(t);
  }
  const done = tenants.filter((t) => !['pending', 'running'].includes(tenantState(t))).length;
  const started = Date.parse(r.created_at);
  const elapsed = Date.now() - started;
  const eta = done > 0 && done < tenants.length ? duration(elapsed * (tenants.length - done) / done) : '-';
  const gates = r.spec.pause_after ? 'pause after ' + r.spec.pause_after : 'none';
  const waveRows = Object.keys(waves).sort((a, b) => a - b).map((w) => {
    const list = waves[w];
    const counts = {};
    for (const t of list) counts[tenantState(t)] = (counts[tenantState(t)] || 0) + 1;
    const bar = el('div', { class: 'bar' }, ...Object.keys(counts).sort().map((s) =>
      el('span', { class: s, title: s + ': ' + counts[s], 'data-n': counts[s] })));
    // Widths without inline style attributes (the policy forbids them): flex-grow via the DOM.
    [...bar.children].forEach((span) => { span.style.flexGrow = span.getAttribute('data-n'); });
    const label = Object.keys(counts).sort().map((s) => counts[s] + ' ' + s).join(', ');
    return el('tr', { 'data-wave': w }, el('td', {}, Number(w) === 0 && r.spec.canary !== '0' ? 'canary' : 'wave ' + w), el('td', {}, bar),
      el('td', {}, label));
  });
  const tenantRows = tenants.map((t) => el('tr', { 'data-tenant': t.id, 'data-state': tenantState(t) },
    el('td', {}, el('a', { href: '#/tenant/' + encodeURIComponent(t.id) }, t.id)), el('td', {}, t.wave),
    el('td', {}, el('span', { class: 'badge b-' + tenantState(t) }, tenantState(t))),
    el('td', {}, (t.start_heads || []).join(',') || 'base'), el('td', {}, (t.heads || []).join(',') || '-'),
    el('td', { class: 'err' }, t.error || '')));
  show(el('h1', {}, 'Rollout ' + r.id),
    el('dl', { id: 'rollout' },
      el('dt', {}, 'state'), el('dd', {}, el('span', { class: 'badge b-' + state, id: 'rollout-state' }, state)),
      el('dt', {}, 'target'), el('dd', {}, r.spec.target + ' (bundle ' + String(r.spec.bundle_digest).slice(0, 12) + ')'),
      el('dt', {}, 'wave'), el('dd', {}, Math.min(r.wave, r.waves) + ' of ' + r.waves),
      el('dt', {}, 'gates'), el('dd', {}, gates),
      el('dt', {}, 'elapsed'), el('dd', {}, terminal(state) ? '-' : duration(elapsed)),
      el('dt', {}, 'eta'), el('dd', {}, terminal(state) ? '-' : eta),
      el('dt', {}, 'reason'), el('dd', { id: 'rollout-reason' }, r.reason || '-'),
      r.stalled ? el('dt', {}, 'stalled') : null, r.stalled ? el('dd', { class: 'error' }, r.stalled) : null),
    el('h2', {}, 'Waves'), el('table', { id: 'waves' }, ...waveRows),
    el('h2', {}, 'Tenants'),
    el('table', { id: 'rollout-tenants' }, el('tr', {}, el('th', {}, 'tenant'), el('th', {}, 'wave'), el('th', {}, 'state'),
      el('th', {}, 'from'), el('th', {}, 'now'), el('th', {}, 'error')), ...tenantRows));
}

function rolloutView(id) {
  return new Promise((resolve, reject) => {
    live = new EventSource('/api/v1/rollouts/' + encodeURIComponent(id) + '/events');
    let first = true;
    live.addEventListener('rollout', (ev) => {
      const r = JSON.parse(ev.data);
      drawRollout(r);
      // Stays open: even a finished rollout can still be rolled back.
      if (first) { first = false; resolve(); }
    });
    live.addEventListener('error', () => {
      if (first && live && live.readyState === EventSource.CLOSED) reject(new Error('the live view closed'));
    });
  });
}

// ---- Router ---------------------------------------------------------------

async function route() {
  if (live) { live.close(); live = null; }
  try {
    const hash = decodeURIComponent(window.location.hash.replace(/^#\/?/, ''));
    const [view, ...rest] = hash.split('/');
    const arg = rest.join('/');
    if (view === 'tenant' && arg) await tenantView(arg);
    else if (view === 'rollouts') await rolloutsView();
    else if (view === 'rollout' && arg) await rolloutView(arg);
    else await fleetView();
  } catch (err) {
    if (err.message !== 'signed out') failed(err);
  }
}

window.addEventListener('hashchange', route);
document.addEventListener('DOMContentLoaded', route);
