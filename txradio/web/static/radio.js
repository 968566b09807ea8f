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

  /* ---- HLS: timed titles and the shipped hls.js ---- */

  // Set once this browser's own HLS failed on this page: Chromium says it
  // plays HLS but rejects MP3 packed audio; every player then uses hls.js.
  var nativeHLSFailed = false;
  var hlsLibrary = null;

  // Load the shipped hls.js once, when a player first needs it (browsers
  // that play HLS themselves, or only hear the ICY stream, never load it).
  function loadHlsLibrary(url) {
    if (window.Hls) { return Promise.resolve(window.Hls); }
    if (!hlsLibrary) {
      hlsLibrary = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = url;
        script.onload = function () {
          if (window.Hls) { resolve(window.Hls); } else { reject(new Error("hls.js did not load")); }
        };
        script.onerror = function () { hlsLibrary = null; reject(new Error("hls.js could not be loaded")); };
        document.head.appendChild(script);
      });
    }
    return hlsLibrary;
  }

  function hasMediaSource() { return Boolean(window.MediaSource || window.ManagedMediaSource); }

  function syncsafe(bytes, at) {
    return ((bytes[at] & 0x7f) << 21) | ((bytes[at + 1] & 0x7f) << 14) | ((bytes[at + 2] & 0x7f) << 7) | (bytes[at + 3] & 0x7f);
  }

  function uint32(bytes, at) { return bytes[at] * 0x1000000 + ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]); }

  // An ID3 text frame's value: its first byte names the encoding.
  function id3Text(body) {
    var encoding = body[0];
    var label = ["iso-8859-1", "utf-16le", "utf-16be", "utf-8"][encoding] || "utf-8";
    var start = 1;
    if (encoding === 1 && body.length > 2) {
      label = body[1] === 0xfe && body[2] === 0xff ? "utf-16be" : "utf-16le";
      start = 3;
    }
    try {
      // ID3v2.4 separates several values with NUL: keep the first.
      return new TextDecoder(label).decode(body.subarray(start)).split("\u0000")[0];
    } catch (e) { return ""; }
  }

  // The text frames of an ID3v2.3 or 2.4 tag, by frame id: txradio's HLS
  // segments start with one that holds the title (TIT2, and TPE1 when the
  // title reads "Artist - Title") beside the timestamp (PRIV).
  function id3TextFrames(bytes) {
    var found = {};
    if (!bytes || bytes.length < 10 || bytes[0] !== 0x49 || bytes[1] !== 0x44 || bytes[2] !== 0x33) { return found; }
    var version = bytes[3];
    var end = Math.min(bytes.length, 10 + syncsafe(bytes, 6));
    var at = 10;
    if (bytes[5] & 0x40) { at += version >= 4 ? syncsafe(bytes, at) : 4 + uint32(bytes, at); }
    while (at + 10 <= end) {
      var id = String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
      if (!/^[A-Z0-9]{4}$/.test(id)) { break; }
      var size = version >= 4 ? syncsafe(bytes, at + 4) : uint32(bytes, at + 4);
      var body = bytes.subarray(at + 10, Math.min(end, at + 10 + size));
      if (id.charAt(0) === "T" && id !== "TXXX" && body.length) { found[id] = id3Text(body); }
      at += 10 + size;
    }
    return found;
  }

  function titleOf(frames) {
    if (!frames.TIT2) { return null; }
    return frames.TPE1 ? frames.TPE1 + " - " + frames.TIT2 : frames.TIT2;
  }

  /* ---- The station page ---- */

  var players = [];

  function stopAll(except) {
    players.forEach(function (player) { if (player !== except) { player.stop(); } });
  }

  // Show a title as the station's "now playing".
  function showTitle(article, text) {
    var element = $("[data-field=title]", article);
    if (!element || element.textContent === text) { return; }
    element.textContent = text;
    element.classList.add("changed");
    setTimeout(function () { element.classList.remove("changed"); }, 1500);
  }

  // The title the server announced last (the page's, then /events').
  function announcedTitle(article) {
    if (article.hasAttribute("data-announced")) { return article.getAttribute("data-announced"); }
    var element = $("[data-field=title]", article);
    return element ? element.textContent : "";
  }

  function Player(box) {
    var self = this;
    var audio = $("audio", box);
    var mount = box.getAttribute("data-mount");
    // The mount's HLS playlist, played natively where the browser says it
    // can (Safari, iOS), else with the shipped hls.js where the browser has
    // Media Source Extensions (Chromium, Firefox); the ICY stream where
    // neither works, or when HLS fails before it plays.
    var hls = box.getAttribute("data-hls");
    var hlsScript = box.getAttribute("data-hls-script");
    var engine = null;
    var hlsPlayer = null;
    var started = false;
    var attempt = 0;
    // Titles hls.js found in segments not heard yet: {time, title}.
    var pending = [];
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
    this.article = article;
    this.isPlaying = function () { return playing; };
    this.engine = function () { return engine; };
    // Whether "now playing" shows what this player hears (timed metadata)
    // rather than what the server announced.
    this.hearsTitles = function () { return playing && box.hasAttribute("data-heard"); };

    // A title heard in the stream's timed metadata: it changes when the
    // listener hears the change (HLS runs some segments behind the live
    // edge), not when the server announces it.
    function heard(title) {
      if (!playing) { return; }
      box.setAttribute("data-heard", title);
      if (article) { showTitle(article, title); }
      show("Playing");
      setMediaSession(title, name);
    }

    function forgetHeard() {
      if (!box.hasAttribute("data-heard")) { return; }
      box.removeAttribute("data-heard");
      if (article) { showTitle(article, announcedTitle(article)); }
    }

    // Show the titles whose audio is now playing.
    function catchUp() {
      if (engine !== "hls.js" || !started) { return; }
      var title = null;
      while (pending.length && pending[0].time <= audio.currentTime + 0.05) { title = pending.shift().title; }
      if (title !== null) { heard(title); }
    }

    function detach() {
      if (hlsPlayer) { hlsPlayer.destroy(); hlsPlayer = null; }
      pending = [];
    }

    function playAudio() {
      var mine = attempt;
      var promise = audio.play();
      if (promise && promise.catch) {
        promise.catch(function (error) {
          // A source that fails reports through the error event; this is
          // for a browser that refuses to play at all.
          if (mine === attempt && playing && error && error.name === "NotAllowedError") {
            detach();
            setPressed(false);
            show("Could not play: " + (error.message || "not allowed"));
          }
        });
      }
    }

    function startHlsJs(Hls) {
      var mine = attempt;
      hlsPlayer = new Hls({
        // No worker: the page's content security policy allows no blob:
        // scripts, and demuxing packed MP3 is light work.
        enableWorker: false,
        // The page reads the titles itself (below): no metadata text track
        // (whose empty data: source the page's policy would refuse).
        enableID3MetadataCues: false,
        enableEmsgMetadataCues: false,
        enableDateRangeMetadataCues: false,
        liveDurationInfinity: true,
        backBufferLength: 30
      });
      hlsPlayer.on(Hls.Events.FRAG_PARSING_METADATA, function (event, data) {
        if (mine !== attempt) { return; }
        (data.samples || []).forEach(function (sample) {
          var title = titleOf(id3TextFrames(sample.data));
          if (title !== null) { pending.push({ time: sample.pts, title: title }); }
        });
        pending.sort(function (a, b) { return a.time - b.time; });
        if (pending.length > 100) { pending.splice(0, pending.length - 100); }
        catchUp();
      });
      hlsPlayer.on(Hls.Events.MANIFEST_PARSED, function () { if (mine === attempt) { playAudio(); } });
      hlsPlayer.on(Hls.Events.ERROR, function (event, data) {
        if (mine === attempt && data.fatal) { failed(); }
      });
      hlsPlayer.loadSource(hls);
      hlsPlayer.attachMedia(audio);
    }

    // Play with "native" (the browser's own HLS), "hls.js" or "icy".
    function start(kind) {
      detach();
      attempt += 1;
      var mine = attempt;
      engine = kind;
      started = false;
      box.setAttribute("data-engine", kind);
      if (kind === "hls.js") {
        loadHlsLibrary(hlsScript).then(function (Hls) {
          if (mine !== attempt) { return; }
          if (Hls.isSupported()) { startHlsJs(Hls); } else { start("icy"); }
        }, function () { if (mine === attempt) { start("icy"); } });
        return;
      }
      // A fresh connection each time: a live stream resumed from a pause
      // would play stale audio.
      audio.src = kind === "native" ? hls : mount;
      playAudio();
    }

    function failed() {
      if (!started && engine !== "icy") {
        if (engine === "native") { nativeHLSFailed = true; }
        if (engine === "native" && hlsScript && hasMediaSource()) { start("hls.js"); return; }
        box.setAttribute("data-fallback", "icy");
        start("icy");
        return;
      }
      self.stop();
      show("The stream could not be played (is the station on air?).");
    }

    this.play = function () {
      stopAll(self);
      setPressed(true);
      show("Connecting…");
      if (hls && !nativeHLSFailed && audio.canPlayType("application/vnd.apple.mpegurl")) {
        start("native");
      } else if (hls && hlsScript && hasMediaSource()) {
        start("hls.js");
      } else {
        start("icy");
      }
      var title = article ? $("[data-field=title]", article).textContent : "";
      setMediaSession(title, name);
    };
    this.stop = function () {
      if (!playing) { return; }
      attempt += 1;
      setPressed(false);
      audio.pause();
      detach();
      audio.removeAttribute("src");
      audio.load();
      engine = null;
      box.removeAttribute("data-engine");
      forgetHeard();
      show("");
    };
    button.addEventListener("click", function () { if (playing) { self.stop(); } else { self.play(); } });
    volume.addEventListener("input", function () { audio.volume = Number(volume.value); });
    audio.addEventListener("playing", function () {
      if (!playing) { return; }
      started = true;
      show("Playing");
      catchUp();
    });
    audio.addEventListener("timeupdate", catchUp);
    audio.addEventListener("waiting", function () { if (playing) { show("Buffering…"); } });
    audio.addEventListener("error", function () {
      if (!playing) { return; }
      // Ignore what a source this player has already left reports.
      var source = audio.currentSrc || "";
      if ((engine === "hls.js") !== (source.slice(0, 5) === "blob:")) { return; }
      failed();
    });
    // The browser's own HLS (Safari) turns the segments' ID3 tags into cues
    // of a metadata text track, each holding one frame.
    if (hls && audio.textTracks && audio.textTracks.addEventListener) {
      audio.textTracks.addEventListener("addtrack", function (event) {
        var track = event.track;
        if (!track || track.kind !== "metadata") { return; }
        track.mode = "hidden";
        track.addEventListener("cuechange", function () {
          if (engine !== "native") { return; }
          var cues = track.activeCues || [];
          var found = {};
          for (var i = 0; i < cues.length; i++) {
            var value = cues[i].value;
            if (value && value.key && typeof value.data === "string") { found[value.key] = value.data; }
          }
          var title = titleOf(found);
          if (title !== null) { heard(title); }
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
    var previous = announcedTitle(article);
    var title = data.title || "Nothing yet";
    article.setAttribute("data-announced", title);
    if (title !== previous) {
      var history = $("[data-field=history]", article);
      if (history && previous && previous !== "Nothing yet") {
        var item = document.createElement("li");
        item.textContent = previous;
        history.insertBefore(item, history.firstChild);
        while (history.children.length > 10) { history.removeChild(history.lastChild); }
      }
    }
    // A player hearing timed titles shows those: the server announces a
    // change some seconds before an HLS listener hears it.
    var hearing = players.some(function (player) { return player.article === article && player.hearsTitles(); });
    if (!hearing) {
      showTitle(article, title);
      if (title !== previous) {
        players.forEach(function (player) {
          if (player.article === article && player.isPlaying()) { setMediaSession(title, data.name); }
        });
      }
    }
    var art = $("[data-field=art]", article);
    if (art && "art" in data) {
      if (data.art) {
        if (art.getAttribute("src") !== data.art) { art.setAttribute("src", data.art); }
        art.hidden = false;
      } else {
        art.hidden = true;
      }
    }
    set("name", data.name || "");
    set("description", data.description || "");
    set("listeners", String(data.listeners + (data.hlsListeners || 0)));
    set("peak", String(data.peak));
    set("format", formatText(data.bitrate));
    var badge = $("[data-field=state]", article);
    if (badge) {
      badge.textContent = data.live ? (data.dj ? "Live: " + data.dj : "Live") : (data.onAir ? "On air" : "Off air");
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
    // A server with too many pages open answers a short stream with a
    // retry field and a "busy" event, then ends it: EventSource reconnects
    // by itself after that delay.  A stream that fails for good (an error
    // status from a proxy) is opened again here, backing off to 5 minutes.
    var delay = 5000;
    function open() {
      var source = new EventSource("/events");
      source.addEventListener("open", function () { mark(true, "on"); });
      source.addEventListener("error", function () {
        if (source.readyState === 2) {
          mark(false, "paused, retrying…");
          setTimeout(open, delay + Math.random() * delay);
          delay = Math.min(delay * 2, 300000);
        } else {
          mark(false, "reconnecting…");
        }
      });
      source.addEventListener("busy", function () { mark(false, "busy, retrying…"); });
      source.addEventListener("mount", function (event) {
        delay = 5000;
        try { updateStation(JSON.parse(event.data)); } catch (e) { /* a malformed event is ignored */ }
      });
      window.txradioEvents = source;
    }
    open();
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
