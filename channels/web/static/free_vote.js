/* A free vote from a phone's browser: prove the number with a texted code (asked for with the work of a challenge,
   code_work.js, solved while the number is typed), then choose the candidate (channels/web/free_votes.py). ES5. */
(function () {
  'use strict';
  function $(id) { return document.getElementById(id); }
  var dataEl = $('free-data');
  if (!dataEl) { return; }
  var data = JSON.parse(dataEl.textContent);
  var S = JSON.parse($('free-strings').textContent);
  var base = '/api/v1/contests/' + data.slug + '/free-votes';
  var proof = null, msisdn = null, solved = null;

  function fill(text, values) {
    return String(text || '').replace(/\{(\w+)\}/g, function (m, key) { return key in values ? values[key] : m; });
  }
  function showError(error) {
    var box = $('free-error');
    var message = window.BallotUploads.told(error, S.errors || {});
    box.textContent = message || '';
    box.hidden = !message;
  }
  var refused = window.BallotUploads.refused;
  function api(method, url, payload) {
    return window.BallotUploads.request(method, url + '?lang=' + data.lang, payload ? JSON.stringify(payload) : null,
      { 'Content-Type': 'application/json' }).then(function (xhr) {
      if (xhr.status >= 400) { throw refused(xhr); }
      try { return JSON.parse(xhr.responseText || '{}'); } catch (e) { throw refused(xhr); }
    });
  }
  /* A challenge fetched and solved ahead: each buys one code request. */
  function work() {
    var next = api('GET', base + '/challenge').then(function (challenge) {
      return window.BallotCodeWork.solve(challenge).then(function (nonce) {
        return { challenge: challenge.challenge, nonce: nonce };
      });
    });
    next.catch(function () { /* shown if it is needed */ });
    return next;
  }
  function askCode(number, again) {
    var paid = solved;
    solved = work();
    return paid.then(function (work) {
      return api('POST', base + '/code', { msisdn: number, challenge: work.challenge, nonce: work.nonce });
    }).catch(function (error) {  /* expired while the page stayed open: once more with a fresh one */
      if (again && /^challenge_/.test(error.code || '')) { return askCode(number, false); }
      throw error;
    });
  }
  var phoneForm = $('phone-form'), freeForm = $('free-form');
  phoneForm.hidden = false;
  solved = work();
  phoneForm.addEventListener('submit', function (event) {
    event.preventDefault(); showError(null);
    var button = phoneForm.querySelector('button[type=submit]');
    button.disabled = true;
    $('code-state').textContent = S.enter_preparing_code;
    askCode($('msisdn').value, true)
      .then(function (answer) { msisdn = answer.sent_to; $('code-box').hidden = false; $('code').focus(); })
      .catch(showError)
      .then(function () { button.disabled = false; $('code-state').textContent = ''; });
  });
  $('check-code').addEventListener('click', function () {
    showError(null);
    api('POST', base + '/proof', { msisdn: msisdn, code: $('code').value })
      .then(function (answer) { proof = answer.proof; phoneForm.hidden = true; freeForm.hidden = false; })
      .catch(showError);
  });
  freeForm.addEventListener('submit', function (event) {
    event.preventDefault(); showError(null);
    api('POST', base, { proof: proof, candidate: $('candidate').value })
      .then(function (answer) {
        freeForm.hidden = true;
        var done = $('free-done');
        done.textContent = fill(S.free_done, { name: answer.candidate + ' ' + answer.candidate_name,
                                               left: answer.free_votes_left });
        done.hidden = false;
      })
      .catch(showError);
  });
}());
