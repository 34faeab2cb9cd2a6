/* Sending one file straight to the media storage with the grant the service gave: tus 1.0 in chunks to the
   local media server (creating the upload again says how far it got, PATCH goes on from there), or Cloudinary's
   chunked signed upload; a 3G link that drops loses one chunk, not the clip. Used by the entry pages and the
   admin area's clip replacement. ES5, no build. */
(function () {
  'use strict';
  var RETRY_MS = [1000, 2000, 5000, 10000, 20000, 30000];
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
  /* The service's refusal in an answer (`{"error": {"code", "message", "field"}}`), or nothing. */
  function refusalOf(xhr) {
    try { return JSON.parse(xhr.responseText || '{}').error || {}; } catch (e) { return {}; }
  }
  function codeOf(xhr) { return refusalOf(xhr).code || ''; }
  /* A refused request as an error: the refusal's message, code and field. */
  function refused(xhr) {
    var refusal = refusalOf(xhr);
    var error = new Error(refusal.message || ('HTTP ' + xhr.status));
    error.code = refusal.code || ''; error.field = refusal.field || '';
    return error;
  }
  function wait(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  /* One file to the grant's URL, resuming from the storage's offset after any failure. */
  function upload(grant, file, progress, onRetry) {
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
        .then(function (created) {
          /* Complete already: the last chunk arrived, only its answer was lost. */
          if (created.status === 410 && codeOf(created) === 'upload_complete') { return file.size; }
          return check(created, 201);
        });
    }
    function check(xhr, wanted) {
      if (xhr.status !== wanted && xhr.status !== 204) {
        var error = refused(xhr); error.final = xhr.status < 500;
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
        onRetry();
        return wait(RETRY_MS[tries++]).then(attempt);
      });
    }
    return attempt();
  }

  /* Cloudinary's signed upload: the grant's fields and the file in chunks sharing one X-Unique-Upload-Id, each
     saying its bytes in Content-Range; a chunk that failed is sent again (Cloudinary keeps those it has). */
  function uploadToCloudinary(grant, file, progress, onRetry) {
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
        onRetry();
        return wait(RETRY_MS[tries]).then(function () { return send(at, tries + 1); });
      });
    }
    return send(0, 0);
  }

  /* The grant's protocol picks the sender; `progress` gets the share sent (0-1), `onRetry` a dropped chunk. */
  function send(grant, file, progress, onRetry) {
    var sender = grant.protocol === 'cloudinary' ? uploadToCloudinary : upload;
    return sender(grant, file, progress, onRetry || function () {});
  }
  /* What to tell the person of a failed request, in the page's language: `texts` holds the page's words for the
     API's error codes, and under '' for no answer at all; a failure the page has no words for keeps its own. */
  function told(error, texts) {
    if (!error) { return ''; }
    if (error.code) { return texts[error.code + ':' + (error.field || '')] || texts[error.code] || error.message; }
    var unanswered = /^(network|retry|HTTP \d+)$/.test(error.message || '');
    return (unanswered && texts['']) || error.message;
  }
  window.BallotUploads = { send: send, request: request, refused: refused, told: told };
}());
