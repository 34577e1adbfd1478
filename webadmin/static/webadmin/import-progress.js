// Polls an import's progress (JSON) and updates the bar until the import ends.
// A static file: the Content-Security-Policy allows no inline scripts.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) { return; }
  var bar = document.getElementById("import-bar");
  var status = document.getElementById("import-status");
  var counts = document.getElementById("import-counts");
  var plural = function (n, word) { return n + " " + word + (n === 1 ? "" : "s"); };

  function show(p) {
    bar.value = p.percent;
    bar.textContent = p.percent + "%";
    if (p.state === "done") {
      status.textContent = "Done: " + plural(p.messages, "message") + " imported.";
    } else if (p.state === "failed") {
      status.textContent = "Failed: " + p.error;
    } else if (p.state === "aborted") {
      status.textContent = "Stopped: " + plural(p.messages, "message") + " imported before the stop.";
    } else if (p.state === "interrupted") {
      status.textContent = "Interrupted (the server restarted?) after " + plural(p.messages, "message") + ": import the rest again.";
    } else {
      status.textContent = p.percent + "%, " + plural(p.messages, "message") + " so far" + (p.mailbox ? " (" + p.mailbox + ")" : "") + "…";
    }
    counts.textContent = "";
    Object.keys(p.counts).forEach(function (name) {
      var li = document.createElement("li");
      li.textContent = name + ": " + p.counts[name];
      counts.appendChild(li);
    });
    box.dataset.state = p.state;
    var running = p.state === "queued" || p.state === "running";
    var abort = document.getElementById("import-abort");
    if (abort && !running) { abort.hidden = true; }
    return running;
  }

  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (p) { if (show(p)) { setTimeout(poll, 500); } })
      .catch(function (e) { status.textContent = "Progress unavailable (" + e.message + "), retrying…"; setTimeout(poll, 2000); });
  }
  poll();
}());
