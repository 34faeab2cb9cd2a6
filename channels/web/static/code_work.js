/* The work a code request pays before the service texts anyone (gateway.kit.code_work): find a nonce such that
   SHA-256("<salt>:<nonce>") begins with `bits` zero bits. The salt and nonce fit one SHA-256 block and only the
   digest's first word is needed (bits <= 32), so the loop is one compression per try, in slices that leave the
   page free to type into. ES5, no build; crypto.subtle is asynchronous per hash and absent over plain http. */
(function () {
  'use strict';
  var K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2];
  var W = [];
  /* Work between two looks at the page, by the clock: a count of tries took 250 ms on a slow phone (a long task
     that held its taps); 10 ms is no long task (50 ms) even on a phone four times slower than this one's clock. */
  var SLICE_MS = 10, TRIES = 500;

  /* The first 32 bits of SHA-256 of an ASCII text shorter than 56 characters (one block). */
  function firstWord(text) {
    var i, n = text.length, x, y;
    for (i = 0; i < 16; i++) { W[i] = 0; }
    for (i = 0; i < n; i++) { W[i >> 2] |= text.charCodeAt(i) << (24 - (i % 4) * 8); }
    W[n >> 2] |= 0x80 << (24 - (n % 4) * 8);
    W[15] = n * 8;
    for (i = 16; i < 64; i++) {
      x = W[i - 15]; y = W[i - 2];
      W[i] = (W[i - 16] + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + W[i - 7] +
        (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
    }
    var a = 0x6a09e667, b = 0xbb67ae85 | 0, c = 0x3c6ef372, d = 0xa54ff53a | 0;
    var e = 0x510e527f, f = 0x9b05688c | 0, g = 0x1f83d9ab, h = 0x5be0cd19, t1, t2;
    for (i = 0; i < 64; i++) {
      t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
      t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
        ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    return (0x6a09e667 + a) | 0;
  }

  /* A promise of the nonce (decimal digits) that solves the challenge {salt, bits}. */
  function solve(challenge) {
    var prefix = challenge.salt + ':', shift = 32 - challenge.bits, nonce = 0;
    return new Promise(function (resolve) {
      var next = later(slice);
      function slice() {
        var until = Date.now() + SLICE_MS;
        do {
          for (var end = nonce + TRIES; nonce < end; nonce++) {
            if ((firstWord(prefix + nonce) >>> shift) === 0) { resolve(String(nonce)); return; }
          }
        } while (Date.now() < until);
        next();
      }
      slice();
    });
  }

  /* A function that runs `work` once the page has had its turn: a message to itself, which browsers deliver at
     once (setTimeout waits 4 ms once nested, a third of each slice), else setTimeout. */
  function later(work) {
    if (typeof MessageChannel === 'undefined') { return function () { setTimeout(work, 0); }; }
    var channel = new MessageChannel();
    channel.port1.onmessage = work;
    return function () { channel.port2.postMessage(0); };
  }

  var exported = { solve: solve, firstWord: firstWord };
  if (typeof window !== 'undefined') { window.BallotCodeWork = exported; }
  if (typeof module !== 'undefined') { module.exports = exported; }
}());
