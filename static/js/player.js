// The render page's player helpers: the spritesheet's filmstrip, and "Play both" on the compare page. The video's
// own controls are the one seek bar; the filmstrip under it shows the frames and jumps to the one chosen.
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

  // the strip of frames: a button per frame, "Jump to 0:03.2"; the frame playing is marked aria-current

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

    function seek(t) {
      video.currentTime = Math.min(Math.max(t, 0), duration());
    }

    strip.addEventListener("click", function (event) {
      var b = event.target.closest(".film-frame");
      if (b) seek(timeOf(parseInt(b.getAttribute("data-frame"), 10)));
    });
    video.addEventListener("timeupdate", function () {
      var current = frameAt(video.currentTime);
      buttons.forEach(function (b, i) {
        if (i === current) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
      });
    });

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
