// The render page's player helpers: the spritesheet scrubber, and "Play both" on the compare page.
// The CSP forbids inline scripts and inline style ATTRIBUTES; setting element.style from this static script is
// allowed (it goes through the CSSOM), which is how tiles of the spritesheet are placed.
//
// The spritesheet: one JPEG of frames in a grid, left to right, top to bottom, sampled at even intervals (frame
// i of N shows the video at (i + 0.5) / N of its length). The provider does not document the grid, so the page
// gives its guess (data-columns, data-rows: sorasim's 5 x 2) and this script checks it against the sheet's pixel
// size: the tiles must have the video's aspect ratio (data-width / data-height). If they do not, it takes the
// grid with the fewest columns whose tiles do; if none does, the scrubber is left as the plain image.
(function () {
  "use strict";

  function fits(sheetW, sheetH, aspect, cols, rows) {
    var tileAspect = (sheetW / cols) / (sheetH / rows);
    return Math.abs(tileAspect - aspect) / aspect < 0.03;
  }

  function gridFor(sheetW, sheetH, aspect, cols, rows) {
    if (cols > 0 && rows > 0 && fits(sheetW, sheetH, aspect, cols, rows)) return { cols: cols, rows: rows };
    for (var c = 1; c <= 20; c++) {
      var r = Math.round(sheetH / ((sheetW / c) / aspect));
      if (r >= 1 && r <= 20 && c * r > 1 && fits(sheetW, sheetH, aspect, c, r)) return { cols: c, rows: r };
    }
    return null;
  }

  function placeTile(el, sheetUrl, grid, index) {
    var col = index % grid.cols, row = Math.floor(index / grid.cols);
    el.style.backgroundImage = "url(\"" + sheetUrl + "\")";
    el.style.backgroundSize = (grid.cols * 100) + "% " + (grid.rows * 100) + "%";
    el.style.backgroundPosition = (grid.cols > 1 ? col / (grid.cols - 1) * 100 : 0) + "% " +
      (grid.rows > 1 ? row / (grid.rows - 1) * 100 : 0) + "%";
  }

  function formatTime(t) {
    var m = Math.floor(t / 60), s = t - m * 60;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(1);
  }

  function setUpScrubber(box) {
    var sheet = box.querySelector("img.scrubber-sheet");
    var video = document.getElementById(box.getAttribute("data-video"));
    if (!sheet || !video) return;
    var aspect = parseFloat(box.getAttribute("data-width")) / parseFloat(box.getAttribute("data-height"));
    var grid = gridFor(sheet.naturalWidth, sheet.naturalHeight, aspect,
      parseInt(box.getAttribute("data-columns"), 10), parseInt(box.getAttribute("data-rows"), 10));
    if (!grid || !(aspect > 0)) return; // not a grid we understand: the plain image stays
    var frames = grid.cols * grid.rows;
    var url = sheet.currentSrc || sheet.src;

    function duration() {
      return isFinite(video.duration) && video.duration > 0 ? video.duration
        : parseFloat(box.getAttribute("data-duration")) || 1;
    }
    function frameAt(t) { return Math.min(frames - 1, Math.max(0, Math.floor(t / duration() * frames))); }
    function timeOf(i) { return (i + 0.5) / frames * duration(); }

    var track = document.createElement("div");
    track.className = "scrub-track";
    var preview = document.createElement("div");
    preview.className = "scrub-preview";
    preview.hidden = true;
    preview.style.aspectRatio = String(aspect);
    var label = document.createElement("span");
    label.className = "scrub-time";
    preview.appendChild(label);
    var range = document.createElement("input");
    range.type = "range";
    range.min = "0";
    range.step = "0.1";
    range.max = String(duration());
    range.value = "0";
    range.className = "scrub-range";
    range.setAttribute("aria-label", "Scrub through the video: preview a moment, release to jump there");
    track.appendChild(preview);
    track.appendChild(range);

    var strip = document.createElement("div");
    strip.className = "filmstrip";
    strip.setAttribute("role", "group");
    strip.setAttribute("aria-label", "Frames of the video: choose one to jump there");
    var buttons = [];
    for (var i = 0; i < frames; i++) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "film-frame";
      b.style.aspectRatio = String(aspect);
      b.setAttribute("data-frame", String(i));
      b.setAttribute("aria-label", "Jump to " + formatTime(timeOf(i)));
      placeTile(b, url, grid, i);
      buttons.push(b);
      strip.appendChild(b);
    }

    function show(t) {
      var i = frameAt(t);
      placeTile(preview, url, grid, i);
      label.textContent = formatTime(t);
      preview.hidden = false;
      var fraction = Math.min(1, Math.max(0, t / duration()));
      preview.style.left = (fraction * 100) + "%";
    }
    function hide() { preview.hidden = true; }
    function seek(t) {
      video.currentTime = Math.min(Math.max(t, 0), duration());
    }
    var dragging = false;

    range.addEventListener("input", function () { dragging = true; show(parseFloat(range.value)); });
    range.addEventListener("change", function () { dragging = false; seek(parseFloat(range.value)); hide(); });
    range.addEventListener("pointermove", function (event) {
      var rect = range.getBoundingClientRect();
      if (rect.width > 0) show((event.clientX - rect.left) / rect.width * duration());
    });
    range.addEventListener("pointerleave", function () { if (!dragging) hide(); });
    range.addEventListener("blur", hide);
    strip.addEventListener("click", function (event) {
      var b = event.target.closest(".film-frame");
      if (b) seek(timeOf(parseInt(b.getAttribute("data-frame"), 10)));
    });
    video.addEventListener("loadedmetadata", function () { range.max = String(duration()); });
    video.addEventListener("timeupdate", function () {
      if (!dragging) range.value = String(video.currentTime);
      var current = frameAt(video.currentTime);
      buttons.forEach(function (b, i) {
        if (i === current) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
      });
    });

    box.appendChild(track);
    box.appendChild(strip);
    box.classList.add("is-ready"); // the CSS hides the plain sheet once the scrubber stands in for it
    box.setAttribute("data-grid", grid.cols + "x" + grid.rows);
  }

  function setUpSyncPlay(button) {
    var videos = Array.prototype.slice.call(document.querySelectorAll("video[data-compare]"));
    if (videos.length < 2) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var playing = videos.some(function (v) { return !v.paused; });
      if (playing) {
        videos.forEach(function (v) { v.pause(); });
        button.textContent = "Play both";
      } else {
        var t = videos[0].currentTime;
        videos.forEach(function (v) { v.currentTime = Math.min(t, v.duration || t); v.play(); });
        button.textContent = "Pause both";
      }
    });
  }

  function init() {
    document.querySelectorAll("[data-scrubber]").forEach(function (box) {
      var sheet = box.querySelector("img.scrubber-sheet");
      if (!sheet) return;
      if (sheet.complete && sheet.naturalWidth) setUpScrubber(box);
      else sheet.addEventListener("load", function () { setUpScrubber(box); }, { once: true });
    });
    document.querySelectorAll("[data-sync-play]").forEach(setUpSyncPlay);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
