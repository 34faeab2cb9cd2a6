/* Entering a contest from a phone: prove the number with a texted code, then send the photo and the clip
   straight to the media storage in 1 MB chunks (tus 1.0: creating the upload again says how far it got,
   PATCH goes on from there), so a 3G link that drops loses one chunk, not the clip; then send the entry. ES5, no build. */
(function () {
  'use strict';
  function $(id) { return document.getElementById(id); }
  var dataEl = $('entry-data');
  if (!dataEl) { return; }
  var data = JSON.parse(dataEl.textContent);
  var S = JSON.parse($('entry-strings').textContent);
  var proof = null, msisdn = null;
  var RETRY_MS = [1000, 2000, 5000, 10000, 20000, 30000];

  function fill(text, values) {
    return String(text || '').replace(/\{(\w+)\}/g, function (m, key) { return key in values ? values[key] : m; });
  }
  function showError(message) {
    var box = $('entry-error');
    box.textContent = message || '';
    box.hidden = !message;
    if (message) { box.focus && box.focus(); }
  }
  function request(method, url, body, headers) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      var all = headers || {};
      Object.keys(all).forEach(function (name) { xhr.setRequestHeader(name, all[name]); });
      xhr.onload = function () { resolve(xhr); };
      xhr.onerror = xhr.ontimeout = function () { reject(new Error('network')); };
      xhr.timeout = 120000;
      xhr.send(body === undefined ? null : body);
    });
  }
  function api(method, url, payload) {
    return request(method, url + (url.indexOf('?') < 0 ? '?' : '&') + 'lang=' + data.lang, JSON.stringify(payload),
      { 'Content-Type': 'application/json' }).then(function (xhr) {
      var answer = {};
      try { answer = JSON.parse(xhr.responseText || '{}'); } catch (e) { answer = {}; }
      if (xhr.status >= 400) { throw new Error((answer.error || {}).message || ('HTTP ' + xhr.status)); }
      return answer;
    });
  }
  function wait(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  /* One file to the grant's URL, resuming from the storage's offset after any failure. */
  function upload(grant, file, progress) {
    var auth = { 'Tus-Resumable': '1.0.0', 'Authorization': grant.fields.authorization };
    var tries = 0;
    function headers(extra) {
      var all = {}; Object.keys(auth).forEach(function (k) { all[k] = auth[k]; });
      Object.keys(extra).forEach(function (k) { all[k] = extra[k]; });
      return all;
    }
    function offset() {
      /* Creating the upload again is how to learn its offset: the server keeps what it has (tus `creation`). */
      return request('POST', grant.url, undefined, headers({ 'Upload-Length': String(file.size) }))
        .then(function (created) { return check(created, 201); });
    }
    function check(xhr, wanted) {
      if (xhr.status !== wanted && xhr.status !== 204) {
        var answer = {}; try { answer = JSON.parse(xhr.responseText || '{}'); } catch (e) { answer = {}; }
        var error = new Error((answer.error || {}).message || ('HTTP ' + xhr.status)); error.final = xhr.status < 500;
        throw error;
      }
      return parseInt(xhr.getResponseHeader('Upload-Offset'), 10) || 0;
    }
    function send(at) {
      progress(at / file.size);
      if (at >= file.size) { return Promise.resolve(); }
      var chunk = file.slice(at, Math.min(file.size, at + grant.chunk_bytes));
      return request('PATCH', grant.url, chunk, headers({
        'Upload-Offset': String(at), 'Content-Type': 'application/offset+octet-stream' }))
        .then(function (xhr) { tries = 0; return send(check(xhr, 204)); });
    }
    function attempt() {
      return offset().then(send).catch(function (error) {
        if (error.final || tries >= RETRY_MS.length) { throw error; }
        $('upload-state').textContent = S.retrying;
        return wait(RETRY_MS[tries++]).then(attempt);
      });
    }
    return attempt();
  }

  /* Cloudinary's signed upload: the grant's fields and the file in chunks sharing one X-Unique-Upload-Id, each
     saying its bytes in Content-Range; a chunk that failed is sent again (Cloudinary keeps those it has). */
  function uploadToCloudinary(grant, file, progress) {
    var unique = String(Date.now()) + Math.random().toString(16).slice(2);
    function send(at, tries) {
      progress(at / file.size);
      if (at >= file.size) { return Promise.resolve(); }
      var end = Math.min(file.size, at + grant.chunk_bytes), form = new FormData();
      Object.keys(grant.fields).forEach(function (name) { form.append(name, grant.fields[name]); });
      form.append('file', file.slice(at, end), file.name || 'upload');
      return request('POST', grant.url, form, { 'X-Unique-Upload-Id': unique,
        'Content-Range': 'bytes ' + at + '-' + (end - 1) + '/' + file.size }).then(function (xhr) {
        if (xhr.status >= 400 && xhr.status < 500) {
          var answer = {}; try { answer = JSON.parse(xhr.responseText || '{}'); } catch (e) { answer = {}; }
          throw new Error((answer.error || {}).message || ('HTTP ' + xhr.status));
        }
        if (xhr.status >= 500) { throw new Error('retry'); }
        return send(end, 0);
      }, function () { throw new Error('retry'); }).catch(function (error) {
        if (error.message !== 'retry' || tries >= RETRY_MS.length) { throw error; }
        $('upload-state').textContent = S.retrying;
        return wait(RETRY_MS[tries]).then(function () { return send(at, tries + 1); });
      });
    }
    return send(0, 0);
  }

  function sendFile(grantUrl, grantBody, file, share, done) {
    return api('POST', grantUrl, grantBody).then(function (grant) {
      var bar = $('progress'); bar.hidden = false;
      var sender = grant.protocol === 'cloudinary' ? uploadToCloudinary : upload;
      return sender(grant, file, function (part) {
        var percent = Math.round((done + part * share) * 100);
        bar.value = percent;
        $('upload-state').textContent = fill(S.uploading, { percent: percent });
      }).then(function () { return grant.upload_id; });
    });
  }

  var phoneForm = $('phone-form'), entryForm = $('entry-form'), replaceForm = $('replace-form');
  if (phoneForm) {
    phoneForm.hidden = false;
    phoneForm.addEventListener('submit', function (event) {
      event.preventDefault(); showError('');
      api('POST', '/api/v1/contests/' + data.slug + '/entries/code', { msisdn: $('msisdn').value })
        .then(function (answer) { msisdn = answer.sent_to; $('code-box').hidden = false; $('code').focus(); })
        .catch(function (error) { showError(error.message); });
    });
    $('check-code').addEventListener('click', function () {
      showError('');
      api('POST', '/api/v1/contests/' + data.slug + '/entries/proof', { msisdn: msisdn, code: $('code').value })
        .then(function (answer) {
          proof = answer.proof; phoneForm.hidden = true; entryForm.hidden = false; $('name').focus();
        })
        .catch(function (error) { showError(error.message); });
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
        showError(error.message);
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
        .catch(function (error) { sending = false; showError(error.message); });
    });
  }
}());
