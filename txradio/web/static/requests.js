/* txradio: what comes next on the station page, and the library's Request
   buttons (docs/programming.md, "Listener requests"). No dependencies. */
(function () {
  "use strict";

  /* Each entry is [title, expected start (RFC 3339) or null]; the time
     shows in the reader's own time zone. */
  function fill(list, entries) {
    if (!list) { return; }
    while (list.firstChild) { list.removeChild(list.firstChild); }
    entries.forEach(function (entry) {
      var item = document.createElement("li");
      item.textContent = entry[0];
      if (entry[1]) {
        var when = document.createElement("small");
        when.textContent = " about " + new Date(entry[1]).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
        item.appendChild(when);
      }
      list.appendChild(item);
    });
  }

  /* The station page: refresh "Up next" and the queue every 15 s, and
     soon after the live updates announce a new title. */
  function stationPage() {
    if (!document.querySelector("[data-field=upcoming]")) { return; }
    function refresh() {
      fetch("/api/v1/status", { headers: { Accept: "application/json" } }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (status) {
        (status && status.mounts || []).forEach(function (mount) {
          var article = null;
          document.querySelectorAll("article.station").forEach(function (candidate) {
            if (candidate.getAttribute("data-mount") === mount.mount) { article = candidate; }
          });
          if (!article) { return; }
          fill(article.querySelector("[data-field=upcoming]"), (mount.next || []).map(function (next) {
            return [next.title, next.expected];
          }));
          fill(article.querySelector("[data-field=requests]"), (mount.requests || []).map(function (request) {
            return [request.artist ? request.artist + " - " + request.title : request.title, request.expected];
          }));
        });
      }).catch(function () { /* tried again at the next refresh */ });
    }
    setInterval(refresh, 15000);
    var timer = null;
    document.querySelectorAll("article.station [data-field=title]").forEach(function (title) {
      new MutationObserver(function () {
        clearTimeout(timer);
        timer = setTimeout(refresh, 1000);
      }).observe(title, { childList: true, characterData: true, subtree: true });
    });
  }

  /* The library: a Request button on each MP3 row when a mount takes
     requests (the first that does); the answer (position, or how long to wait) shows in
     the row. */
  function libraryPage() {
    var rows = document.querySelectorAll("table.tracks tbody tr[data-src]");
    if (!rows.length) { return; }
    fetch("/api/v1/requests").then(function (response) { return response.ok ? response.json() : null; }).then(function (queues) {
      if (!queues || !queues.mounts.length) { return; }
      rows.forEach(function (row) {
        var path = decodeURIComponent(row.getAttribute("data-src").replace(/^\/library\//, "").split("?")[0]);
        if (!/\.mp3$/i.test(path)) { return; }
        var button = document.createElement("button");
        button.type = "button";
        button.className = "request";
        button.textContent = "Request";
        var answer = document.createElement("small");
        answer.setAttribute("aria-live", "polite");
        button.addEventListener("click", function () {
          button.disabled = true;
          fetch("/api/v1/requests", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ path: path, mount: queues.mounts[0].mount })
          }).then(function (response) {
            return response.json().then(function (body) {
              answer.textContent = response.status === 201
                ? " Requested: number " + body.position + " in the queue"
                : " " + (body.error || "Refused");
            });
          }).catch(function () {
            answer.textContent = " The request could not be sent";
          }).then(function () { button.disabled = false; });
        });
        var cell = row.querySelector("td.title") || row.lastElementChild;
        cell.appendChild(document.createTextNode(" "));
        cell.appendChild(button);
        cell.appendChild(answer);
      });
    }).catch(function () { /* no requests: no buttons */ });
  }

  function start() {
    if (document.body.classList.contains("stations")) { stationPage(); }
    if (document.body.classList.contains("library")) { libraryPage(); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
