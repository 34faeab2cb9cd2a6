/* The broadcast overlay: the board's own stream (SSE) drawn as the top rows with bars and shares. A TV picture
   must not flicker with every vote: frames are coalesced and the latest is drawn at most once a second. The
   browser resumes the stream with Last-Event-ID; when it gives up, we reconnect with the version we hold. */
(function () {
  'use strict';
  var DRAW_EVERY_MS = 1000;
  var root = document.getElementById('overlay');
  var data = JSON.parse(document.getElementById('overlay-data').textContent);
  var S = data.strings;
  var list = document.getElementById('overlay-rows');
  var sealedNote = document.getElementById('overlay-sealed');
  var formulaNote = document.getElementById('overlay-formula');
  var still = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  var version = -1, pending = null, timer = null, lastDraw = 0, source = null, retries = 0;
  var layout = root.getAttribute('data-layout');
  var state = { draws: [], cues: 0, version: function () { return version; }, layout: function () { return layout; } };
  window.ballotOverlay = state;
  var LAYOUTS = ['board', 'strip', 'corner'], SMALLEST_PX = 14;

  // A line that must stay one line (a channel's line to vote, the address): shrunk until it fits its box.
  function fit(node) {
    node.style.fontSize = '';
    var size = parseFloat(window.getComputedStyle(node).fontSize);
    while (node.scrollWidth > node.clientWidth + 0.5 && size > SMALLEST_PX) {
      size -= 1;
      node.style.fontSize = size + 'px';
    }
  }
  function fitAll() { Array.prototype.forEach.call(root.querySelectorAll('.fit'), fit); }

  // The control room's cue, with every board: shown or not, and the layout it imposes (else this page's own).
  function cue(given) {
    if (!given) { return; }
    state.cues += 1;
    root.classList.toggle('off', given.shown === false);
    var wanted = LAYOUTS.indexOf(given.layout) >= 0 ? given.layout : data.layout;
    if (wanted !== layout) {
      root.classList.remove('layout-' + layout);
      root.classList.add('layout-' + wanted);
      layout = wanted;
      fitAll();
    }
  }

  function fill(text, values) {
    return String(text || '').replace(/\{(\w+)\}/g, function (m, key) { return key in values ? values[key] : m; });
  }
  function group(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, data.lang === 'fr' ? '\u202f' : ',');
  }
  function votesText(n) {
    var one = data.lang === 'fr' ? n <= 1 : n === 1;
    return fill(one ? S.vote_one : S.vote_many, { n: group(n) });
  }
  function tenths(votes, total) {  // as overlay.py's share_tenths: rounded half up
    return total > 0 ? Math.floor((votes * 1000 + Math.floor(total / 2)) / total) : 0;
  }
  function shareText(t) {
    return fill(S.overlay_share, { share: Math.floor(t / 10) + (data.lang === 'fr' ? ',' : '.') + (t % 10) });
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    node.className = className;
    if (text != null) { node.textContent = text; }
    return node;
  }
  function setBar(li) {
    var t = li.getAttribute('data-tenths');
    li.querySelector('.fill').style.transform = 'scaleX(' + (t === '' ? 0 : Math.min(1, t / 1000)) + ')';
  }

  function makeRow(c) {
    var li = el('li', 'row'), bar = el('span', 'bar');
    li.setAttribute('data-code', c.code);
    ['rank', 'code', 'name', 'votes', 'share'].forEach(function (name) { li.appendChild(el('span', name)); });
    li.querySelector('.code').textContent = c.code;
    bar.setAttribute('aria-hidden', 'true');
    bar.appendChild(el('span', 'fill'));
    li.appendChild(bar);
    return li;
  }

  function percentTenths(pct) { return pct == null ? '' : Math.floor(pct * 10 + 0.5); }  // as overlay.py's score_tenths
  function partsText(c) {  // a revealed jury's board: the public's and the jury's parts where the votes were
    var jury = shareText(percentTenths(c.jury_share_pct));
    if (c.public_share_pct == null) { return fill(S.overlay_jury_part, { jury: jury }); }
    return fill(S.overlay_parts, { 'public': shareText(percentTenths(c.public_share_pct)), jury: jury });
  }

  function update(li, c, total) {
    var blended = 'jury_points' in c;
    var t = blended ? percentTenths(c.score_pct) : (c.votes == null || !total ? '' : tenths(c.votes, total));
    li.setAttribute('data-rank', c.rank);
    li.setAttribute('data-votes', c.votes == null ? '' : c.votes);
    li.setAttribute('data-tenths', t);
    li.querySelector('.rank').textContent = fill(S.rank, { rank: c.rank });
    li.querySelector('.name').textContent = c.name;
    li.querySelector('.votes').textContent = blended ? partsText(c) : (c.votes == null ? '' : votesText(c.votes));
    li.querySelector('.share').textContent = t === '' ? '' : shareText(t);
    setBar(li);
  }

  function slide(tops) {  // rows that changed places glide from where they were
    if (still) { return; }
    var moved = [], i, li, delta;
    for (i = 0; i < list.children.length; i++) {
      li = list.children[i];
      if (!(li.getAttribute('data-code') in tops)) { continue; }
      delta = tops[li.getAttribute('data-code')] - li.getBoundingClientRect().top;
      if (delta) { li.style.transition = 'none'; li.style.transform = 'translateY(' + delta + 'px)'; moved.push(li); }
    }
    if (!moved.length) { return; }
    void list.offsetHeight;
    moved.forEach(function (row) { row.style.transition = 'transform .6s ease'; row.style.transform = ''; });
  }

  function showSealed() {
    sealedNote.textContent = Date.now() < data.closes_at_ms ? S.overlay_sealed_open : S.overlay_sealed;
    sealedNote.hidden = false;
    list.hidden = true;
    list.textContent = '';  // a sealed board names nobody: not even the order rows were in
  }

  // The producer's countdown to the close (countdown.js): counted down on this page's own clock.
  var lines = window.ballotCountdown(document.getElementById('overlay-countdown'), S.lines_countdown,
                                     S.lines_closed);

  function showFormula(formula) {  // a contest decided with a jury says how, sealed or not, never before its board opens
    formulaNote.hidden = !formula;
    if (formula) { formulaNote.textContent = fill(S.overlay_formula, { 'public': formula.public_weight_pct,
                                                                       jury: formula.jury_weight_pct }); }
  }

  function draw(board) {
    state.draws.push(lastDraw);  // the time the next draw is spaced from, not a later tick of the clock
    showFormula(board.sealed ? null : board.formula);
    if (board.sealed) { showSealed(); return; }
    sealedNote.hidden = true;
    list.hidden = false;
    var rows = {}, tops = {}, i, code;
    for (i = 0; i < list.children.length; i++) {
      code = list.children[i].getAttribute('data-code');
      rows[code] = list.children[i];
      tops[code] = list.children[i].getBoundingClientRect().top;
    }
    board.candidates.slice().sort(function (a, b) { return a.rank - b.rank || (a.code < b.code ? -1 : 1); })
      .slice(0, data.top).forEach(function (c) {
        var li = rows[c.code] || makeRow(c);
        update(li, c, board.total_votes);
        list.appendChild(li);  // moves an existing row into its new place
        delete rows[c.code];
      });
    Object.keys(rows).forEach(function (gone) { list.removeChild(rows[gone]); });
    slide(tops);
  }

  function drawLatest() {
    timer = null;
    lastDraw = Date.now();
    var board = pending;
    pending = null;
    if (board) { draw(board); }
  }

  function receive(board) {  // coalesce: keep only the newest frame, draw it on the next free second
    cue(board.overlay);  // at once: a cue is the producer's word, not a vote to smooth out
    lines(board);  // as at once: the producer's countdown
    if (board.sealed) {
      version = 0;  // a sealed board has no version of its own; the next one is news
    } else if (board.version != null) {
      if (board.version < version) { return; }
      version = board.version;
    }
    pending = board;
    if (!timer) { timer = setTimeout(drawLatest, Math.max(0, lastDraw + DRAW_EVERY_MS - Date.now())); }
  }

  // The fan-out server hashes it to pick which of the board's identical channels serves this overlay, the same one
  // on every reconnect. Kept in memory only.
  var viewer = Math.random().toString(36).slice(2, 12);

  function streamUrl() {  // a new EventSource forgets the last id: the stream also reads it from the query
    var url = root.getAttribute('data-stream') + '?viewer=' + viewer;
    return version > 0 ? url + '&last_event_id=' + version : url;
  }

  function connect() {
    if (!window.EventSource) { return; }
    source = new EventSource(streamUrl());
    source.onopen = function () { retries = 0; };
    source.addEventListener('leaderboard', function (event) {
      try { receive(JSON.parse(event.data)); } catch (ignored) { /* a bad frame: wait for the next */ }
    });
    source.onerror = function () {
      if (source.readyState !== 2) { return; }  // the browser reconnects by itself, with Last-Event-ID
      retryLater();
    };
    source.addEventListener('withdrawn', retryLater);  // the fan-out server's word that the board is gone
  }

  function retryLater() {
    source.close();
    retries += 1;
    setTimeout(connect, Math.min(60000, 1000 * Math.pow(2, retries)) + Math.random() * 1000);
  }

  void list.offsetWidth;  // the first paint's bars at zero, so that they grow in
  for (var i = 0; i < list.children.length; i++) { setBar(list.children[i]); }
  if (!sealedNote.hidden) { showSealed(); }
  fitAll();
  if (document.fonts && document.fonts.ready) { document.fonts.ready.then(fitAll); }
  connect();
}());
