/* Ballot public pages: the live board (SSE, else polling, else the server-rendered board), the vote
   form over fetch with the order's status in place, and the status page's updates. No framework,
   no build; ES5-style so older phone browsers run it. Without it every page still works. */
(function () {
  'use strict';
  var root = document.documentElement;
  root.className = root.className.replace(/\bno-js\b/, 'js');
  var dataEl = document.getElementById('page-data');
  var page = dataEl ? JSON.parse(dataEl.textContent) : { lang: root.lang, strings: {} };
  var S = page.strings || {};
  var MONO_TONES = 12;  // monogram.TONES: the `.mono-N` classes of ballot.css
  var POLL_MS = 10000, ORDER_POLL_MS = 2000, ORDER_POLL_LIMIT_MS = 15 * 60 * 1000;
  var still = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;

  function fill(text, values) {
    return String(text || '').replace(/\{(\w+)\}/g, function (m, key) { return key in values ? values[key] : m; });
  }
  function group(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, page.lang === 'fr' ? '\u202f' : ',');
  }
  function votesText(n) {
    var one = page.lang === 'fr' ? n <= 1 : n === 1;
    return fill(one ? S.vote_one : S.vote_many, { n: group(n) });
  }
  function money(amount) {
    var digits = page.digits || 0, scale = Math.pow(10, digits);
    var text = group(Math.floor(amount / scale));
    if (digits) { text += (page.lang === 'fr' ? ',' : '.') + String(amount % scale + scale).slice(1); }
    return text + '\u00a0' + page.currency;
  }
  function getJSON(url) {
    return fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) {
        if (!r.ok) { var e = new Error('HTTP ' + r.status); e.status = r.status; throw e; }
        return r.json();
      });
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text != null) { node.textContent = text; }
    return node;
  }

  /* ---- the board ---- */
  function startBoard(section) {
    var list = section.querySelector('.board-list');
    var state = document.getElementById('live-state');
    var news = document.getElementById('board-news');
    var total = document.getElementById('board-total');
    var sealedNote = document.getElementById('board-sealed');
    var version = -1, source = null, retries = 0, pollTimer = null, jsonMissing = false, live = false;
    // The fan-out server hashes this to pick which of the board's identical channels serves this page: the same
    // one on every reconnect (the browser resumes there with Last-Event-ID). Kept in memory only, not a tracker.
    var viewer = Math.random().toString(36).slice(2, 12);

    function setState(name) {
      state.hidden = false;
      state.setAttribute('data-state', name);
      state.querySelector('.live-text').textContent = S['state_' + name] || '';
    }

    // A candidate new to the board since the page was made: their monogram (monogram.py's tone and initials).
    function tone(name) {
      var digest = 0x811c9dc5, i;
      for (i = 0; i < name.length; i++) {
        digest = (digest ^ name.charCodeAt(i)) >>> 0;
        digest = ((digest << 24) + digest * 403) >>> 0;  // times FNV's prime, 2^24 + 403, modulo 2^32
      }
      return digest % MONO_TONES;
    }
    function initials(name, code) {
      var letters = name.split(/\s+/)
        .map(function (w) { var m = w.match(/[0-9A-Za-z\u00c0-\u024f]/); return m ? m[0] : ''; })
        .filter(Boolean).slice(0, 2).join('').toUpperCase();
      return letters || code;
    }
    function makeRow(c) {
      var li = el('li', 'row'), rank = el('span', 'rank'), who = el('span', 'who');
      li.setAttribute('data-code', c.code);
      li.setAttribute('data-name', c.name);
      li.setAttribute('data-votes', '');
      rank.appendChild(el('span', 'sr-only'));
      rank.appendChild(el('span', 'rank-n')).setAttribute('aria-hidden', 'true');
      var tile = el('span', 'av mono mono-' + tone(c.name), initials(c.name, c.code));
      tile.setAttribute('aria-hidden', 'true');
      who.appendChild(el('span', 'name', c.name));
      li.appendChild(rank);
      li.appendChild(tile);
      li.appendChild(who);
      return li;
    }

    // Share of the votes in tenths of a percent, halves up (board_view.share_of), and as the page writes it.
    function shareOf(votes, total) { return total ? Math.floor((votes * 2000 + total) / (2 * total)) : 0; }
    function shareText(tenths) {
      var whole = Math.floor(tenths / 10), tenth = tenths % 10, fr = page.lang === 'fr';
      return (tenth ? whole + (fr ? ',' : '.') + tenth : String(whole)) + (fr ? '\u202f%' : '%');
    }
    function child(parent, className, tag) {
      return parent.querySelector('.' + className) || parent.appendChild(el(tag || 'span', className));
    }
    function drop(parent, selector) {
      var node = parent.querySelector(selector);
      if (node) { node.parentNode.removeChild(node); }
    }

    function showShare(li, tenths) {
      var who = li.querySelector('.who');
      if (tenths == null) { drop(who, '.bar'); drop(li, '.share'); li.setAttribute('data-share', ''); return; }
      var bar = who.querySelector('.bar');
      if (!bar) { bar = child(who, 'bar'); bar.setAttribute('aria-hidden', 'true'); child(bar, 'fill'); }
      // The exact length, set through the style object (the content policy forbids style attributes, not this);
      // the CSS transition makes it grow or shrink to it.
      bar.querySelector('.fill').style.width = (tenths / 10) + '%';
      var figures = child(li, 'figures');
      var share = figures.querySelector('.share') || figures.insertBefore(el('span', 'share'), figures.firstChild);
      share.textContent = shareText(tenths);
      li.setAttribute('data-share', tenths);
    }

    function update(li, c, total) {
      li.setAttribute('data-rank', c.rank);
      li.querySelector('.rank').className = 'rank rank-' + (c.rank <= 3 ? c.rank : 'n');
      li.querySelector('.rank .sr-only').textContent = fill(S.rank, { rank: c.rank });
      li.querySelector('.rank-n').textContent = c.rank;
      showShare(li, c.votes == null || total == null ? null : shareOf(c.votes, total));
      if (c.votes == null) { drop(li, '.figures'); li.setAttribute('data-votes', ''); return; }
      var votes = child(child(li, 'figures'), 'votes');
      var before = li.getAttribute('data-votes');
      if (before === String(c.votes)) { return; }
      votes.textContent = votesText(c.votes);
      li.setAttribute('data-votes', c.votes);
      if (before !== '' && !still) { li.classList.remove('bump'); void li.offsetWidth; li.classList.add('bump'); }
    }

    function animate(tops) {
      void list.offsetHeight;  // the rows styled where they now are (the bars' lengths then change from there)
      if (still) { return; }
      var moved = [], i, li, delta;
      for (i = 0; i < list.children.length; i++) {
        li = list.children[i];
        delta = tops[li.getAttribute('data-code')] - li.getBoundingClientRect().top;
        if (delta) { li.style.transition = 'none'; li.style.transform = 'translateY(' + delta + 'px)'; moved.push(li); }
      }
      if (!moved.length) { return; }
      void list.offsetHeight;  // commit the old positions (First, Last, Invert), then let them slide (Play)
      moved.forEach(function (row) { row.style.transition = 'transform .6s ease'; row.style.transform = ''; });
    }

    // The producer's countdown to the close (countdown.js), counted down on the page's own clock.
    var lines = window.ballotCountdown ? window.ballotCountdown(document.getElementById('lines-countdown'),
                                                                S.lines_countdown, S.lines_closed) : function () {};

    function apply(board) {
      lines(board);
      if (sealedNote) { sealedNote.hidden = !board.sealed; }
      if (board.sealed) {
        version = 0;  // a sealed board has no version of its own (it would count votes); the next one is news
      } else if (board.version != null) {
        if (board.version < version) { return; }
        version = board.version;
      }
      var rows = {}, tops = {}, i, code, leader = list.firstElementChild;
      var oldLeader = leader && leader.getAttribute('data-code');
      for (i = 0; i < list.children.length; i++) {
        code = list.children[i].getAttribute('data-code');
        rows[code] = list.children[i];
        tops[code] = list.children[i].getBoundingClientRect().top;
      }
      var order = board.candidates.slice()
        .sort(function (a, b) { return a.rank - b.rank || (a.code < b.code ? -1 : 1); });
      var placed = order.map(function (c, at) {
        var li = rows[c.code] || makeRow(c);
        if (list.children[at] !== li) { list.insertBefore(li, list.children[at] || null); }  // only rows that move
        delete rows[c.code];
        return li;
      });
      Object.keys(rows).forEach(function (gone) { list.removeChild(rows[gone]); });
      animate(tops);
      // Only now, each row styled in its new place, the new figures: a bar changed before (or while) its row
      // moved would jump to its length instead of growing to it.
      order.forEach(function (c, at) { update(placed[at], c, board.total_votes); });
      total.hidden = board.total_votes == null;
      if (board.total_votes != null) { total.textContent = fill(S.total_votes, { votes: votesText(board.total_votes) }); }
      leader = list.firstElementChild;
      if (leader && oldLeader && leader.getAttribute('data-code') !== oldLeader) {
        news.textContent = fill(S.new_leader, { name: leader.getAttribute('data-name') });
      }
    }

    function fromHtml(html) {
      var doc = new DOMParser().parseFromString(html, 'text/html');
      var items = doc.querySelectorAll('.board-list li'), out = [], i, votes, totalAttr;
      for (i = 0; i < items.length; i++) {
        votes = items[i].getAttribute('data-votes');
        out.push({ code: items[i].getAttribute('data-code'), name: items[i].getAttribute('data-name'),
          rank: +items[i].getAttribute('data-rank'), votes: votes === '' ? null : +votes });
      }
      totalAttr = doc.querySelector('.board-list').getAttribute('data-total');
      return { version: null, candidates: out, total_votes: totalAttr === '' ? null : +totalAttr };
    }

    function pollHtml() {
      return fetch(section.getAttribute('data-fallback'), { credentials: 'same-origin', cache: 'no-store' })
        .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.text(); })
        .then(function (html) { apply(fromHtml(html)); });
    }

    function poll() {
      var got = jsonMissing ? pollHtml() : getJSON(section.getAttribute('data-json')).then(apply, function (e) {
        if (e.status !== 404) { throw e; }
        jsonMissing = true;  // no JSON board on this server: read the server-rendered one
        return pollHtml();
      });
      return got.then(function () { if (!live) { setState('polling'); } },
        function () { if (!live) { setState('reconnecting'); } });
    }

    function startPolling() {
      if (!pollTimer) { pollTimer = setInterval(function () { if (!document.hidden) { poll(); } }, POLL_MS); }
    }
    function stopPolling() { clearInterval(pollTimer); pollTimer = null; }

    function onLive() { live = true; retries = 0; setState('live'); stopPolling(); }

    function lost() { live = false; setState('reconnecting'); startPolling(); }
    function retryLater() {  // after the browser gave up on the stream, or was told to: later, ourselves
      source.close();
      retries += 1;
      setTimeout(connect, Math.min(60000, 1000 * Math.pow(2, retries)) + Math.random() * 1000);
    }

    function connect() {
      if (!window.EventSource || jsonMissing) { setState('polling'); startPolling(); return; }
      setState(retries ? 'reconnecting' : 'connecting');
      source = new EventSource(section.getAttribute('data-stream') + '?viewer=' + viewer);
      source.onopen = onLive;
      source.addEventListener('leaderboard', function (event) {
        try { apply(JSON.parse(event.data)); } catch (ignored) { /* a bad frame: wait for the next */ }
        onLive();
      });
      source.onerror = function () {
        lost();
        if (source.readyState === 2) { retryLater(); }  // the browser gave up (e.g. a 404 or 429)
      };
      // The fan-out server's word that the board is no longer public (its contest back to draft): as a 404.
      source.addEventListener('withdrawn', function () { lost(); retryLater(); });
    }

    document.addEventListener('visibilitychange', function () { if (!document.hidden && !live) { poll(); } });
    connect();
    return {
      refresh: function () { if (!live) { poll(); } },
      mode: function () { return live ? 'live' : (jsonMissing ? 'server-board' : 'polling'); }
    };
  }

  /* ---- following an order (the form's panel and the status page) ---- */
  function showSummary(panel, summary) {
    panel.className = 'panel on tone-' + summary.tone;
    panel.querySelector('.panel-title').textContent = summary.title;
    panel.querySelector('.panel-body').textContent = summary.body;
  }

  function followOrder(url, panel, done) {
    var started = Date.now(), timer = setInterval(tick, ORDER_POLL_MS);
    function tick() {
      if (Date.now() - started > ORDER_POLL_LIMIT_MS) { clearInterval(timer); return; }
      getJSON(url).then(function (summary) {
        showSummary(panel, summary);
        if (summary.terminal) { clearInterval(timer); if (done) { done(summary); } }
      }, function () { /* offline for a moment: the next tick tries again */ });
    }
    return function stop() { clearInterval(timer); };
  }

  /* ---- the vote form ---- */
  function startForm(form, board) {
    var panel = document.getElementById('order-panel');
    var summaryBox = document.getElementById('form-errors');
    var button = form.querySelector('button[type=submit]');
    var msisdnField = document.getElementById('msisdn-field');
    var quantity = form.elements.quantity, totalOut = document.getElementById('total');
    var busy = false, stopFollowing = null;

    function checked(name) {
      var input = form.querySelector('input[name=' + name + ']:checked');
      return input ? input.value : '';
    }
    function providerChanged() {
      var input = form.querySelector('input[name=provider]:checked');
      var mobile = !!input && input.hasAttribute('data-phone');  /* a provider that charges the phone's wallet */
      msisdnField.hidden = !mobile;
      form.elements.msisdn.required = mobile;
    }
    function showTotal() {  /* a bundle's votes cost its amount (page.tiers), as the order will */
      var n = parseInt(quantity.value, 10), tiers = page.tiers || {};
      var amount = Object.prototype.hasOwnProperty.call(tiers, String(n)) ? tiers[String(n)] : n * page.price;
      totalOut.textContent = n > 0 ? fill(S.total, { amount: money(amount) }) : '';
    }
    Array.prototype.forEach.call(form.querySelectorAll('button.bundle'), function (bundle) {
      bundle.addEventListener('click', function () {
        quantity.value = bundle.getAttribute('data-votes');
        showTotal();
        quantity.focus();
      });
    });
    function newFormId() {
      var bytes = new Uint8Array(16), out = '', i;
      if (window.crypto && crypto.getRandomValues) { crypto.getRandomValues(bytes); }
      else { for (i = 0; i < 16; i++) { bytes[i] = Math.floor(Math.random() * 256); } }
      for (i = 0; i < 16; i++) { out += ('0' + bytes[i].toString(16)).slice(-2); }
      form.elements.form_id.value = out;
    }
    function encode() {
      var parts = [], i, field;
      for (i = 0; i < form.elements.length; i++) {
        field = form.elements[i];
        if (!field.name || field.disabled || ((field.type === 'radio' || field.type === 'checkbox') && !field.checked)) { continue; }
        parts.push(encodeURIComponent(field.name) + '=' + encodeURIComponent(field.value));
      }
      return parts.join('&');
    }
    function clearErrors() {
      summaryBox.hidden = true;
      var errs = form.querySelectorAll('.err'), bad = form.querySelectorAll('[aria-invalid]'), i;
      for (i = 0; i < errs.length; i++) { errs[i].hidden = true; errs[i].textContent = ''; }
      for (i = 0; i < bad.length; i++) { bad[i].removeAttribute('aria-invalid'); }
    }
    function showErrors(errors) {
      var list = summaryBox.querySelector('ul');
      list.textContent = '';
      Object.keys(errors).forEach(function (name) {
        var target = form.querySelector('[name=' + name + ']'), note = document.getElementById('err-' + name);
        var link = el('a', '', errors[name]);
        link.href = '#' + (target && target.id ? target.id : 'vote');
        list.appendChild(el('li')).appendChild(link);
        if (note) { note.textContent = errors[name]; note.hidden = false; }
        var inputs = form.querySelectorAll('[name=' + name + ']'), i;
        for (i = 0; i < inputs.length; i++) { inputs[i].setAttribute('aria-invalid', 'true'); }
      });
      summaryBox.hidden = false;
      summaryBox.focus();
    }
    function accepted(body) {
      newFormId();  // the next submission is a new vote, not a replay of this one
      if (body.next.action === 'redirect' && body.next.url) { window.location.assign(body.next.url); return; }
      if (stopFollowing) { stopFollowing(); }
      showSummary(panel, body.summary);
      var link = el('a', '', S.follow_order);
      link.href = body.status_url;
      panel.querySelector('.panel-link').textContent = '';
      panel.querySelector('.panel-link').appendChild(link);
      panel.focus();
      stopFollowing = followOrder(body.poll_url, panel, function (summary) {
        if (summary.status === 'paid') { board.refresh(); setTimeout(board.refresh, 2500); }
      });
    }

    form.addEventListener('change', function (event) {
      if (event.target.name === 'provider') { providerChanged(); }
    });
    quantity.addEventListener('input', showTotal);
    window.addEventListener('pageshow', function (event) { if (event.persisted) { newFormId(); } });
    providerChanged();
    showTotal();

    form.addEventListener('submit', function (event) {
      if (!window.fetch) { return; }  // the plain post works everywhere
      event.preventDefault();
      if (busy) { return; }
      busy = true;
      button.disabled = true;
      button.textContent = S.sending;
      clearErrors();
      fetch(form.action, { method: 'POST', credentials: 'same-origin', body: encode(),
        headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' } })
        .then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); })
        .then(function (res) {
          if (res.status === 201) { accepted(res.body); } else { showErrors(res.body.errors || { form: S.error_body }); }
        }, function () { form.submit(); })  // no answer: the plain post is safe, the form id makes it one vote
        .then(function () { busy = false; button.disabled = false; button.textContent = S.submit; });
    });
  }

  /* ---- the status page ---- */
  function startOrderPage(section) {
    if (section.getAttribute('data-terminal') === 'true') { return; }
    followOrder(section.getAttribute('data-poll'), section, function (summary) {
      document.getElementById('order-updates').hidden = true;
      var again = document.getElementById('prompt-again'), code = document.getElementById('receipt-code');
      if (again) { again.hidden = true; }
      if (code && summary.receipt_code) {  // the provider's receipt code, once paid (M-Pesa's)
        code.querySelector('code').textContent = summary.receipt_code;
        code.hidden = false;
        document.getElementById('receipt-code-label').hidden = false;
      }
    });
  }

  var boardSection = document.getElementById('board');
  var board = boardSection && window.fetch ? startBoard(boardSection) : { refresh: function () {}, mode: function () { return 'static'; } };
  window.ballotBoard = board;
  var form = document.getElementById('vote-form');
  if (form) { startForm(form, board); }
  var orderSection = document.getElementById('order-status');
  if (orderSection && window.fetch) { startOrderPage(orderSection); }
}());
