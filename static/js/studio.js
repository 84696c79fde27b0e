// The studio page's behaviour (the CSP forbids inline scripts): sizes that follow the model, the centre-crop
// preview of a reference image whose pixel size differs from the video's, the prompt's clear button, "Use this
// prompt" on a card (in place; without this script the link reloads the page with the form filled), and the
// new card brought into view after a submit. Everything here is a convenience: the server checks the size
// against the model and crops the image itself, with or without this script.
(function () {
  "use strict";

  function form() { return document.getElementById("submit-form"); }

  function readJson(container, name) {
    try { return JSON.parse(container.getAttribute(name) || "{}"); } catch (e) { return {}; }
  }

  // Offer only the values in `allowed` (strings); if the chosen one is not among them, the first is chosen.
  function offerOnly(select, allowed) {
    Array.prototype.forEach.call(select.options, function (option) {
      var ok = allowed.indexOf(option.value) !== -1;
      option.hidden = !ok;
      option.disabled = !ok;
    });
    if (allowed.indexOf(select.value) === -1) select.value = allowed[0];
  }

  // Only the sizes the chosen model renders are offered, and only the lengths the project's keys render at that
  // model and size (data-lengths: {model: {size: [seconds]}}).
  function syncSizes() {
    var f = form();
    if (!f) return;
    var container = f.querySelector("[data-sizes]");
    var model = f.querySelector("select[name=model]");
    var size = f.querySelector("select[name=size]");
    if (!container || !model || !size) return;
    var allowed = readJson(container, "data-sizes")[model.value];
    if (!allowed) return;
    offerOnly(size, allowed);
    var seconds = f.querySelector("select[name=seconds]");
    var lengths = (readJson(container, "data-lengths")[model.value] || {})[size.value];
    if (seconds && lengths) offerOnly(seconds, lengths.map(String));
  }

  function targetSize() {
    var f = form();
    var size = f && f.querySelector("select[name=size]");
    if (!size) return null;
    var parts = size.value.split("x");
    return { width: parseInt(parts[0], 10), height: parseInt(parts[1], 10) };
  }

  var previewUrl = null;

  function hideCrop(choice) {
    choice.hidden = true;
    var box = choice.querySelector("input[name=crop_reference]");
    if (box) box.checked = false;
  }

  // Draw the centre of the image at the video's aspect ratio, as the server's Pillow crop will (ImageOps.fit).
  function showPreview() {
    var f = form();
    if (!f) return;
    var input = f.querySelector("input[name=reference_image]");
    var choice = document.getElementById("crop-choice");
    var preview = document.getElementById("crop-preview");
    var want = targetSize();
    if (!input || !choice || !preview || !want) return;
    var file = input.files && input.files[0];
    if (!file) {
      // a reference the server kept from an earlier try shows the server's own preview; otherwise nothing
      if (!f.querySelector("input[name=reference_token]")) hideCrop(choice);
      return;
    }
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(file);
    var image = new Image();
    image.onload = function () {
      var w = image.naturalWidth, h = image.naturalHeight;
      if (w === want.width && h === want.height) { hideCrop(choice); return; }
      var ratio = want.width / want.height;
      var sw = w, sh = h;
      if (w / h > ratio) { sw = Math.round(h * ratio); } else { sh = Math.round(w / ratio); }
      var sx = Math.round((w - sw) / 2), sy = Math.round((h - sh) / 2);
      var canvas = document.createElement("canvas");
      canvas.width = 320;
      canvas.height = Math.max(1, Math.round(320 / ratio));
      canvas.getContext("2d").drawImage(image, sx, sy, sw, sh, 0, 0, canvas.width, canvas.height);
      preview.src = canvas.toDataURL("image/jpeg", 0.85);
      var note = document.getElementById("crop-note");
      if (note) {
        note.textContent = "The image is " + w + "x" + h + " and the video " + want.width + "x" + want.height +
          ": this is its centre, cropped to the video's shape; it will be resized to fit exactly.";
      }
      choice.hidden = false;
    };
    image.onerror = function () { hideCrop(choice); }; // not an image the browser reads: the server will say why
    image.src = previewUrl;
  }

  // capture phase: the sizes and lengths are fixed before htmx (listening on the options block) asks for the estimate
  document.addEventListener("change", function (event) {
    var t = event.target;
    if (!t || !t.closest || !t.closest("#submit-form")) return;
    if (t.name === "model" || t.name === "size") syncSizes();
  }, true);

  document.addEventListener("change", function (event) {
    var t = event.target;
    if (!t || !t.closest || !t.closest("#submit-form")) return;
    if (t.name === "reference_image" || t.name === "size" || t.name === "model") showPreview();
  });

  // The clear button needs this script, so it is shown by it.
  function showClear() {
    document.querySelectorAll("[data-clear-prompt]").forEach(function (b) { b.hidden = false; });
  }

  function promptBox() {
    var f = form();
    return f && f.querySelector("textarea[name=prompt]");
  }

  function setSelect(f, name, value) {
    var select = f.querySelector("select[name=" + name + "]");
    if (!select || !value) return;
    var option = Array.prototype.find.call(select.options, function (o) { return o.value === value; });
    if (option && !option.disabled) select.value = value;  // not one the keys do not offer
  }

  function reducedMotion() {
    return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  document.addEventListener("click", function (event) {
    var t = event.target;
    if (!t || !t.closest) return;
    var clear = t.closest("[data-clear-prompt]");
    if (clear) {
      var box = promptBox();
      if (box) { box.value = ""; box.focus(); }
      return;
    }
    var use = t.closest("a[data-use-prompt]");
    var f = form();
    if (!use || !f || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    var prompt = promptBox();
    if (prompt) prompt.value = use.getAttribute("data-use-prompt");
    setSelect(f, "model", use.getAttribute("data-model"));
    syncSizes();
    setSelect(f, "size", use.getAttribute("data-size"));
    syncSizes();
    setSelect(f, "seconds", use.getAttribute("data-seconds"));
    showPreview();
    // the options block asks for the estimate on "change" (htmx), as when a person picks an option
    var options = f.querySelector("[data-sizes]");
    if (options) options.dispatchEvent(new Event("change", { bubbles: true }));
    f.scrollIntoView({ block: "start", behavior: reducedMotion() ? "auto" : "smooth" });
    if (prompt) prompt.focus({ preventScroll: true });
  });

  // After a submit the form comes back naming the new card (data-new-card): bring it into view and give it focus,
  // so the person sees it start (at 1440x900 the history begins below the fold).
  document.addEventListener("htmx:afterSettle", function (event) {
    var f = event.target;
    if (!f || f.id !== "submit-form") return;
    var id = f.getAttribute("data-new-card");
    var card = id && document.getElementById(id);
    if (!card) return;
    f.removeAttribute("data-new-card");
    card.classList.add("is-new"); // a mark for the eye: focus after a click shows no ring (:focus-visible)
    card.scrollIntoView({ block: "center", behavior: reducedMotion() ? "auto" : "smooth" });
    var link = card.querySelector("a.render-card-prompt") || card;
    link.focus({ preventScroll: true });
  });

  document.addEventListener("DOMContentLoaded", function () { syncSizes(); showClear(); });
  document.addEventListener("htmx:afterSwap", function () { syncSizes(); showClear(); }); // the form comes back
})();
