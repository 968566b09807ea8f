/* txradio: play buttons, live updates from /events, and the library player.
   Plain JavaScript, no framework; the pages work without it. */
"use strict";

(function () {
  function $(selector, root) { return (root || document).querySelector(selector); }
  function $$(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  function formatText(bitrate) { return bitrate ? "MP3, " + bitrate + " kbps" : "MP3"; }

  function setMediaSession(title, artist) {
    if (!("mediaSession" in navigator) || typeof MediaMetadata === "undefined") { return; }
    try { navigator.mediaSession.metadata = new MediaMetadata({ title: title || "", artist: artist || "" }); } catch (e) { /* ignore */ }
  }

  /* ---- The station page ---- */

  var players = [];

  function stopAll(except) {
    players.forEach(function (player) { if (player !== except) { player.stop(); } });
  }

  function Player(box) {
    var self = this;
    var audio = $("audio", box);
    var mount = box.getAttribute("data-mount");
    // HLS where the browser says it plays it itself (Safari, iOS), the ICY
    // stream everywhere else, and the ICY stream too when the browser's own
    // HLS fails (Chromium 156 claims HLS but rejects MP3 packed audio).
    // No hls.js: every browser plays the plain MP3 stream already.
    var hls = box.getAttribute("data-hls");
    var source = hls && audio.canPlayType("application/vnd.apple.mpegurl") ? hls : mount;
    var started = false;
    var article = box.closest("article");
    var name = article ? $("[data-field=name]", article).textContent : mount;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "play";
    button.setAttribute("aria-pressed", "false");
    button.innerHTML = '<span class="icon" aria-hidden="true"></span><span class="text">Play</span>';
    button.setAttribute("aria-label", "Play " + name);
    var volumeLabel = document.createElement("label");
    volumeLabel.className = "volume";
    volumeLabel.textContent = "Volume ";
    var volume = document.createElement("input");
    volume.type = "range"; volume.min = "0"; volume.max = "1"; volume.step = "0.05"; volume.value = String(audio.volume);
    volumeLabel.appendChild(volume);
    var state = document.createElement("p");
    state.className = "player-state";
    state.setAttribute("aria-live", "polite");
    box.insertBefore(button, audio);
    box.insertBefore(volumeLabel, audio);
    box.appendChild(state);
    box.classList.add("enhanced");
    audio.controls = false;
    audio.removeAttribute("src");
    audio.preload = "none";

    var playing = false;
    function show(text) { state.textContent = text; }
    function setPressed(on) {
      playing = on;
      button.setAttribute("aria-pressed", on ? "true" : "false");
      $(".text", button).textContent = on ? "Stop" : "Play";
      button.setAttribute("aria-label", (on ? "Stop " : "Play ") + name);
    }
    this.audio = audio;
    this.mount = mount;
    this.source = source;
    this.article = article;
    this.isPlaying = function () { return playing; };
    this.play = function () {
      stopAll(self);
      setPressed(true);
      show("Connecting…");
      // A fresh connection each time: a live stream resumed from a pause
      // would play stale audio.
      audio.src = source;
      var started = audio.play();
      if (started && started.catch) {
        started.catch(function (error) {
          if (playing) { setPressed(false); show("Could not play: " + (error && error.message ? error.message : "unknown error")); }
        });
      }
      var title = article ? $("[data-field=title]", article).textContent : "";
      setMediaSession(title, name);
    };
    this.stop = function () {
      if (!playing) { return; }
      setPressed(false);
      audio.pause();
      audio.removeAttribute("src");
      audio.load();
      show("");
    };
    button.addEventListener("click", function () { if (playing) { self.stop(); } else { self.play(); } });
    volume.addEventListener("input", function () { audio.volume = Number(volume.value); });
    audio.addEventListener("playing", function () { if (playing) { started = true; show("Playing"); } });
    audio.addEventListener("waiting", function () { if (playing) { show("Buffering…"); } });
    audio.addEventListener("error", function () {
      if (playing && source === hls && !started) {
        source = mount;
        self.source = mount;
        box.setAttribute("data-fallback", "icy");
        self.play();
        return;
      }
      if (playing) { setPressed(false); show("The stream could not be played (is the station on air?)."); }
    });
    // Titles as timed metadata (ID3 TIT2/TPE1 in HLS segments): they change
    // when the listener hears the change, not when the server announces it.
    if (source === hls && audio.textTracks && audio.textTracks.addEventListener) {
      audio.textTracks.addEventListener("addtrack", function (event) {
        var track = event.track;
        if (!track || track.kind !== "metadata") { return; }
        track.mode = "hidden";
        track.addEventListener("cuechange", function () {
          var cues = track.activeCues || [];
          var found = {};
          for (var i = 0; i < cues.length; i++) {
            var value = cues[i].value;
            if (value && value.key && typeof value.data === "string") { found[value.key] = value.data; }
          }
          if (!found.TIT2 || !playing) { return; }
          var heard = found.TPE1 ? found.TPE1 + " - " + found.TIT2 : found.TIT2;
          box.setAttribute("data-heard", heard);
          show("Playing: " + heard);
          setMediaSession(found.TIT2, found.TPE1 || name);
        });
      });
    }
  }

  function updateStation(data) {
    var article = null;
    $$("article.station").forEach(function (candidate) {
      if (candidate.getAttribute("data-mount") === data.mount) { article = candidate; }
    });
    if (!article) { return; }
    function set(field, text) {
      var element = $("[data-field=" + field + "]", article);
      if (element && element.textContent !== text) { element.textContent = text; return element; }
      return null;
    }
    var titleElement = $("[data-field=title]", article);
    var previous = titleElement ? titleElement.textContent : "";
    var title = data.title || "Nothing yet";
    if (set("title", title)) {
      var history = $("[data-field=history]", article);
      if (history && previous && previous !== "Nothing yet") {
        var item = document.createElement("li");
        item.textContent = previous;
        history.insertBefore(item, history.firstChild);
        while (history.children.length > 10) { history.removeChild(history.lastChild); }
      }
      titleElement.classList.add("changed");
      setTimeout(function () { titleElement.classList.remove("changed"); }, 1500);
      players.forEach(function (player) {
        if (player.article === article && player.isPlaying()) { setMediaSession(title, data.name); }
      });
    }
    set("name", data.name || "");
    set("description", data.description || "");
    set("listeners", String(data.listeners));
    set("peak", String(data.peak));
    set("format", formatText(data.bitrate));
    var badge = $("[data-field=state]", article);
    if (badge) {
      badge.textContent = data.live ? "Live" : (data.onAir ? "On air" : "Off air");
      badge.setAttribute("data-on-air", data.onAir ? "1" : "0");
    }
  }

  function followEvents() {
    if (typeof EventSource === "undefined") { return; }
    var indicator = $(".live-state");
    var label = indicator ? $("[data-live-state]", indicator) : null;
    function mark(on, text) {
      if (!indicator) { return; }
      indicator.hidden = false;
      if (on) { indicator.setAttribute("data-on", ""); } else { indicator.removeAttribute("data-on"); }
      label.textContent = text;
    }
    var source = new EventSource("/events");
    source.addEventListener("open", function () { mark(true, "on"); });
    source.addEventListener("error", function () { mark(false, "reconnecting…"); });
    source.addEventListener("mount", function (event) {
      try { updateStation(JSON.parse(event.data)); } catch (e) { /* a malformed event is ignored */ }
    });
    window.txradioEvents = source;
  }

  function stationPage() {
    $$(".player[data-mount]").forEach(function (box) { players.push(new Player(box)); });
    window.txradioPlayers = players;
    followEvents();
  }

  /* ---- The library ---- */

  function libraryPage() {
    var rows = $$("table.tracks tbody tr[data-src]");
    if (!rows.length) { return; }
    var dock = document.createElement("div");
    dock.className = "dock";
    dock.hidden = true;
    dock.setAttribute("role", "region");
    dock.setAttribute("aria-label", "Player");
    var now = document.createElement("p");
    now.setAttribute("aria-live", "polite");
    var audio = document.createElement("audio");
    audio.controls = true;
    audio.preload = "none";
    dock.appendChild(now);
    dock.appendChild(audio);
    document.body.appendChild(dock);
    var current = -1;

    function play(index) {
      if (index < 0 || index >= rows.length) { return; }
      if (current >= 0) { rows[current].classList.remove("playing"); }
      current = index;
      var row = rows[index];
      row.classList.add("playing");
      var title = row.getAttribute("data-title") || "";
      now.textContent = title;
      dock.hidden = false;
      audio.src = row.getAttribute("data-src");
      var started = audio.play();
      if (started && started.catch) { started.catch(function () { /* the user can press play */ }); }
      setMediaSession(title, row.getAttribute("data-artist") || "");
    }
    rows.forEach(function (row, index) {
      var button = $("button.track", row);
      if (!button) { return; }
      button.hidden = false;
      button.addEventListener("click", function () { play(index); });
    });
    audio.addEventListener("ended", function () { play(current + 1); });
    window.txradioLibrary = { audio: audio, play: play };
  }

  function start() {
    if (document.body.classList.contains("stations")) { stationPage(); }
    if (document.body.classList.contains("library")) { libraryPage(); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
