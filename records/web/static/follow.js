// A batch page follows its batch: the server sends the progress, rendered and escaped as the
// page renders it, whenever it changes; the page swaps it in. Nothing else runs here.
"use strict";
(function () {
  const box = document.getElementById("progress");
  if (!box || !box.dataset.events || !window.EventSource) {
    return;
  }
  const source = new EventSource(box.dataset.events);
  source.onmessage = function (event) {
    const update = JSON.parse(event.data);
    box.innerHTML = update.html;
    if (update.ended) {
      source.close();
    }
  };
})();
