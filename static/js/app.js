// soraweb's only behaviour script. htmx runs with allowEval=false (the CSP forbids eval), so trigger
// filters such as [!document.hidden] cannot run: polling is driven from here instead.
//
// An element with data-poll="<seconds>" and hx-trigger="poll" receives a "poll" event every <seconds>
// while the tab is visible, and one at once when the tab becomes visible again. A poller stops when the
// server answers with an element that no longer carries data-poll (the poller removes itself).
(function () {
  "use strict";
  var lastFired = new WeakMap();

  // htmx's settle step copies the listed attributes from the old element to the new one with setAttribute; for
  // "style" (its default list has it) that is an inline style attribute, which the CSP's style-src-attr refuses
  // (a violation in the console on every swap of an element whose style a script set). Nothing here animates
  // inline styles, so settle only classes and sizes.
  if (window.htmx) window.htmx.config.attributesToSettle = ["class", "width", "height"];

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

  // A poll answered "renders-finished" (HX-Trigger, the studio's in-flight poll): ask for the notices now rather
  // than at the every-page poll's next turn, so "your render completed" comes with the finished card.
  document.addEventListener("renders-finished", function () {
    var notices = document.getElementById("notice-poll");
    if (window.htmx && notices && !notices.classList.contains("htmx-request")) {
      lastFired.set(notices, Date.now());
      window.htmx.trigger(notices, "poll");
    }
  });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) tick(true); });

  // <form data-confirm="Really delete?">: ask before submitting (works with and without htmx).
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  }, true);
})();

// <button data-copy="<id>" hidden>: copy the value (or text) of element <id> to the clipboard and say so in
// [data-copy-status="<id>"]. The button needs this script, so the script shows it (the invitation link, members page).
(function () {
  "use strict";
  function show() {
    if (!navigator.clipboard) return; // no clipboard API (an insecure origin): the field stays, to copy by hand
    document.querySelectorAll("button[data-copy][hidden]").forEach(function (b) { b.hidden = false; });
  }
  document.addEventListener("DOMContentLoaded", show);
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    var id = button.getAttribute("data-copy");
    var source = document.getElementById(id);
    var status = document.querySelector('[data-copy-status="' + id + '"]');
    if (!source) return;
    var text = "value" in source ? source.value : source.textContent;
    navigator.clipboard.writeText(text).then(function () {
      if (status) status.textContent = "Copied.";
    }, function () {
      if (source.select) source.select();
      if (status) status.textContent = "Could not copy: the link is selected, copy it with your keyboard.";
    });
  });
})();

// <button data-dismiss> inside an .alert: remove that alert (the notices the every-page poll brings, renders/notices.html).
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-dismiss]");
  var alert = button && button.closest(".alert");
  if (alert) alert.remove();
});
