/* Entering a contest from a phone: prove the number with a texted code (asked for with the work of a challenge,
   code_work.js, solved while the number is typed), then send the photo and the clip straight to the media storage
   in chunks (uploader.js), so a 3G link that drops loses one chunk, not the clip; then send the entry. ES5. */
(function () {
  'use strict';
  function $(id) { return document.getElementById(id); }
  var dataEl = $('entry-data');
  if (!dataEl) { return; }
  var data = JSON.parse(dataEl.textContent);
  var S = JSON.parse($('entry-strings').textContent);
  var proof = null, msisdn = null;

  function fill(text, values) {
    return String(text || '').replace(/\{(\w+)\}/g, function (m, key) { return key in values ? values[key] : m; });
  }
  function showError(error) {  /* a failed request's error, or nothing to clear the box */
    var box = $('entry-error'), message = window.BallotUploads.told(error, S.errors || {});
    box.textContent = message || '';
    box.hidden = !message;
    if (message) { box.focus && box.focus(); }
  }
  var request = window.BallotUploads.request;
  var refused = window.BallotUploads.refused;
  function api(method, url, payload) {
    return request(method, url + (url.indexOf('?') < 0 ? '?' : '&') + 'lang=' + data.lang, JSON.stringify(payload),
      { 'Content-Type': 'application/json' }).then(function (xhr) {
      if (xhr.status >= 400) { throw refused(xhr); }
      try { return JSON.parse(xhr.responseText || '{}'); } catch (e) { throw refused(xhr); }
    });
  }
  function sendFile(grantUrl, grantBody, file, share, done) {
    return api('POST', grantUrl, grantBody).then(function (grant) {
      var bar = $('progress'); bar.hidden = false;
      return window.BallotUploads.send(grant, file, function (part) {
        var percent = Math.round((done + part * share) * 100);
        bar.value = percent;
        $('upload-state').textContent = fill(S.uploading, { percent: percent });
      }, function () { $('upload-state').textContent = S.retrying; }).then(function () { return grant.upload_id; });
    });
  }

  /* A challenge fetched and solved ahead: each buys one code request, so the next is started as one is spent. */
  function work() {
    return request('GET', '/api/v1/contests/' + data.slug + '/entries/challenge').then(function (xhr) {
      if (xhr.status >= 400) { throw refused(xhr); }
      var challenge;
      try { challenge = JSON.parse(xhr.responseText || '{}'); } catch (e) { throw refused(xhr); }
      return window.BallotCodeWork.solve(challenge).then(function (nonce) {
        return { challenge: challenge.challenge, nonce: nonce };
      });
    });
  }
  function askCode(number, again) {
    var paid = solved;
    solved = work();
    solved.catch(function () { /* shown if it is needed */ });
    return paid.then(function (proof) {
      return api('POST', '/api/v1/contests/' + data.slug + '/entries/code',
        { msisdn: number, challenge: proof.challenge, nonce: proof.nonce });
    }).catch(function (error) {  /* expired while the page stayed open: once more with a fresh one */
      if (again && /^challenge_/.test(error.code || '')) { return askCode(number, false); }
      throw error;
    });
  }
  var phoneForm = $('phone-form'), entryForm = $('entry-form'), replaceForm = $('replace-form');
  var solved = null;
  if (phoneForm) {
    phoneForm.hidden = false;
    solved = work();
    solved.catch(function () { /* shown if it is needed */ });
    phoneForm.addEventListener('submit', function (event) {
      event.preventDefault(); showError('');
      var button = phoneForm.querySelector('button[type=submit]');
      button.disabled = true;
      $('code-state').textContent = S.preparing;
      askCode($('msisdn').value, true)
        .then(function (answer) { msisdn = answer.sent_to; $('code-box').hidden = false; $('code').focus(); })
        .catch(function (error) { showError(error); })
        .then(function () { button.disabled = false; $('code-state').textContent = ''; });
    });
    $('check-code').addEventListener('click', function () {
      showError('');
      api('POST', '/api/v1/contests/' + data.slug + '/entries/proof', { msisdn: msisdn, code: $('code').value })
        .then(function (answer) {
          proof = answer.proof; phoneForm.hidden = true; entryForm.hidden = false; $('name').focus();
        })
        .catch(function (error) { showError(error); });
    });
  }
  if (entryForm) {
    entryForm.addEventListener('submit', function (event) {
      event.preventDefault(); showError('');
      var clip = $('clip').files[0], photo = $('photo').files[0];
      var grants = '/api/v1/contests/' + data.slug + '/entries/uploads';
      var photoShare = photo ? photo.size / (photo.size + clip.size) : 0;
      var photoSent = photo ? sendFile(grants, { proof: proof, kind: 'photo' }, photo, photoShare, 0)
        : Promise.resolve(null);
      entryForm.querySelector('button[type=submit]').disabled = true;
      photoSent.then(function (photoId) {
        return sendFile(grants, { proof: proof, kind: 'clip' }, clip, 1 - photoShare, photoShare)
          .then(function (clipId) {
            return api('POST', '/api/v1/contests/' + data.slug + '/entries', {
              proof: proof, name: $('name').value, bio: $('bio').value, rules_accepted: $('rules').checked,
              clip_id: clipId, photo_id: photoId, language: data.lang });
          });
      }).then(function (answer) {
        $('upload-state').textContent = S.sent;
        window.location.assign(answer.link);
      }).catch(function (error) {
        entryForm.querySelector('button[type=submit]').disabled = false;
        showError(error);
      });
    });
  }
  /* While the clip is prepared, look again now and then; reload once it is, unless a new clip is on its way
     (a reload would cut that upload off: the page without scripts refreshes itself instead). */
  var sending = false;
  if (data.processing && data.entry) {
    var poll = setInterval(function () {
      if (sending) { return; }
      getState().then(function (state) {
        if (state !== 'granted' && state !== 'received' && !sending) { clearInterval(poll); window.location.reload(); }
      }).catch(function () { /* offline for a moment: the next look will tell */ });
    }, data.refresh_seconds * 1000);
  }
  function getState() {
    return request('GET', '/api/v1/entries/' + data.entry + '?token=' + encodeURIComponent(data.token))
      .then(function (xhr) { return JSON.parse(xhr.responseText).clip.state; });
  }
  if (replaceForm) {
    replaceForm.hidden = false;
    replaceForm.addEventListener('submit', function (event) {
      event.preventDefault(); showError('');
      sending = true;
      var base = '/api/v1/entries/' + data.entry;
      sendFile(base + '/uploads', { token: data.token }, $('clip').files[0], 1, 0)
        .then(function (clipId) { return api('PUT', base + '/clip', { token: data.token, clip_id: clipId }); })
        .then(function () { window.location.reload(); })
        .catch(function (error) { sending = false; showError(error); });
    });
  }
}());
