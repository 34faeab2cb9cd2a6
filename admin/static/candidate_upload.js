/* Replacing a candidate's clip or photo: a grant from the admin API, the file straight to the media storage
   (window.BallotUploads, the public site's uploader), its preparation followed, then set as the candidate's. ES5. */
(function () {
  'use strict';
  function $(id) { return document.getElementById(id); }
  var form = $('upload-form');
  if (!form || !window.BallotUploads) { return; }
  var data = JSON.parse($('upload-data').textContent), S = JSON.parse($('upload-strings').textContent);
  var request = window.BallotUploads.request;
  function fill(text, values) {
    return String(text || '').replace(/\{(\w+)\}/g, function (m, key) { return key in values ? values[key] : m; });
  }
  function api(method, url, payload) {
    var body = payload === undefined ? undefined : JSON.stringify(payload);
    return request(method, url, body, { 'Content-Type': 'application/json' }).then(function (xhr) {
      var answer = {};
      try { answer = JSON.parse(xhr.responseText || '{}'); } catch (e) { answer = {}; }
      if (xhr.status >= 400) { throw new Error((answer.error || {}).message || ('HTTP ' + xhr.status)); }
      return answer;
    });
  }
  function state(text) { $('upload-state').textContent = text; }
  function prepared(uploadId) {
    return new Promise(function (resolve, reject) {
      function look() {
        api('GET', data.uploads + uploadId).then(function (upload) {
          if (upload.state === 'ready') { resolve(uploadId); return; }
          if (upload.state === 'refused') { reject(new Error(fill(S.refused, { reason: upload.refusal }))); return; }
          state(S.preparing); setTimeout(look, 2000);
        }, function () { setTimeout(look, 5000); });
      }
      look();
    });
  }
  form.hidden = false;
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var error = $('upload-error'), button = form.querySelector('button');
    error.hidden = true; button.disabled = true;
    api('POST', data.grant, { csrf_token: data.csrf_token }).then(function (grant) {
      var bar = $('progress'); bar.hidden = false;
      return window.BallotUploads.send(grant, $('upload-file').files[0], function (part) {
        bar.value = Math.round(part * 100); state(fill(S.uploading, { percent: bar.value }));
      }, function () { state(S.retrying); }).then(function () { return prepared(grant.upload_id); });
    }).then(function (uploadId) {
      return api('PUT', data.set, { upload_id: uploadId, csrf_token: data.csrf_token });
    }).then(function () { window.location.assign(data.back); }).catch(function (failure) {
      button.disabled = false; error.textContent = failure.message; error.hidden = false;
    });
  });
}());
