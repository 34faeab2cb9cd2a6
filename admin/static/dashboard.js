// Live figures: the server sends the figures' HTML over SSE; this swaps it in. No library.
(function () {
  var box = document.getElementById("figures");
  if (!box || !window.EventSource) return;
  var source = new EventSource(box.getAttribute("data-stream"));
  source.addEventListener("figures", function (event) {
    var open = {};
    box.querySelectorAll("details[open]").forEach(function (d) { open[d.id] = true; });
    box.innerHTML = event.data;
    box.querySelectorAll("details").forEach(function (d) { if (open[d.id]) d.open = true; });
    var stamp = document.getElementById("live");
    if (stamp) stamp.textContent = stamp.getAttribute("data-live");
  });
})();
