/* The producer's countdown to the close of the lines, for the contest page and the broadcast overlay: the board says
   when the lines close once it is within the last half hour (`lines_close_at`); each viewer counts the seconds down
   on its own clock, so no frame is needed for each second, and once it has passed the lines are closed. */
(function () {
  'use strict';
  function clock(ms) {
    var s = Math.ceil(ms / 1000), m = Math.floor(s / 60);
    s = s % 60;
    return m + ':' + (s < 10 ? '0' : '') + s;
  }
  // `node`: where it is said; `closing`: "Lines close in {time}"; `closed`: "Lines are closed". Returns what to call
  // with each board the stream brings.
  window.ballotCountdown = function (node, closing, closed) {
    var closeAt = null, ticking = null;
    function tick() {
      if (!node) { return; }
      node.hidden = closeAt === null;
      if (closeAt !== null) {
        var left = closeAt - Date.now();
        node.textContent = left > 0 ? String(closing || '').replace('{time}', clock(left)) : closed;
      }
    }
    return function (board) {
      if (board.lines_close_at) {
        closeAt = Date.parse(board.lines_close_at);
      } else if (closeAt !== null && closeAt > Date.now()) {
        closeAt = null;  // the close was moved away (a round reopened later)
      }
      if (closeAt !== null && !ticking) { ticking = setInterval(tick, 250); }
      tick();
    };
  };
}());
