// soraweb's only behaviour script. htmx runs with allowEval=false (the CSP forbids eval), so trigger
// filters such as [!document.hidden] cannot run: polling is driven from here instead.
//
// An element with data-poll="<seconds>" and hx-trigger="poll" receives a "poll" event every <seconds>
// while the tab is visible, and one at once when the tab becomes visible again. A poller stops when the
// server answers with an element that no longer carries data-poll (the poller removes itself).
(function () {
  "use strict";
  var lastFired = new WeakMap();

  function tick(force) {
    if (document.hidden || !window.htmx) return;
    var now = Date.now();
    document.querySelectorAll("[data-poll]").forEach(function (el) {
      var every = parseFloat(el.getAttribute("data-poll")) * 1000;
      if (!(every > 0)) return;
      var last = lastFired.get(el);
      if (last === undefined) { lastFired.set(el, now); if (!force) return; }
      if (force || now - last >= every) {
        if (el.classList.contains("htmx-request")) return; // one request in flight at a time
        lastFired.set(el, now);
        window.htmx.trigger(el, "poll");
      }
    });
  }

  setInterval(function () { tick(false); }, 250);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) tick(true); });

  // <form data-confirm="Really delete?">: ask before submitting (works with and without htmx).
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  }, true);
})();

// <button data-dismiss> inside an .alert: remove that alert (the notices the slow poll brings, renders/notices.html).
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-dismiss]");
  var alert = button && button.closest(".alert");
  if (alert) alert.remove();
});
