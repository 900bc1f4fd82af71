// Berth web UI enhancements; every page works without this script.
// - [data-copy="text"] buttons copy their text to the clipboard;
// - forms with data-confirm="question" ask before they are sent;
// - [data-progress="/api/v1/..."] elements follow a job's progress.
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy]");
    if (!b) return;
    e.preventDefault();
    var text = b.getAttribute("data-copy");
    var done = function () {
      var old = b.textContent;
      b.textContent = b.getAttribute("data-copied") || "✓";
      setTimeout(function () { b.textContent = old; }, 1200);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      var t = document.createElement("textarea");
      t.value = text;
      document.body.appendChild(t);
      t.select();
      document.execCommand("copy");
      t.remove();
      done();
    }
  });
  document.addEventListener("submit", function (e) {
    var q = e.target.getAttribute("data-confirm");
    if (q && !window.confirm(q)) e.preventDefault();
  });
  // A job's state JSON may carry the page's words in "text"; an element
  // with data-reload reloads the page when the job it followed is done.
  document.querySelectorAll("[data-progress]").forEach(function (el) {
    var url = el.getAttribute("data-progress");
    var tick = function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          if (!j) return;
          el.textContent = j.text || (j.state + (j.progress ? " · " + JSON.stringify(j.progress) : ""));
          if (j.state === "running" || j.state === "queued") setTimeout(tick, 2000);
          else if (el.hasAttribute("data-reload")) window.location.reload();
        });
    };
    tick();
  });
})();
