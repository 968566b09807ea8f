// txradio: the admin page.  Polls GET /admin/mounts (the admin JSON API)
// every few seconds and sends every action as a POST with a JSON body to
// the same API.  Values go into the page with textContent only.
"use strict";
(function () {
  const main = document.getElementById("main");
  const period = (Number(main.dataset.poll) || 2) * 1000;
  const errorLine = document.querySelector("[data-error]");
  const notice = document.querySelector("[data-notice]");
  const updated = document.querySelector("[data-updated]");
  let timer = null;

  function showError(text) {
    errorLine.textContent = text;
    errorLine.hidden = !text;
  }

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  function duration(seconds) {
    const whole = Math.max(0, Math.floor(seconds));
    const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
  }

  function cell(label, text, className) {
    const td = document.createElement("td");
    td.dataset.label = label;
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function button(text, action, className) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.dataset.action = action;
    if (className) b.className = className;
    return b;
  }

  function listenerRow(mount, others, info) {
    const tr = document.createElement("tr");
    tr.dataset.listener = info.id;
    tr.dataset.mount = mount;
    tr.append(
      cell("ID", info.id), cell("Address", info.peer), cell("Player", info.userAgent || "-", "agent"),
      cell("Connected", duration(info.seconds)), cell("Protocol", info.protocol || "ICY"));
    const actions = cell("Actions", "", "row-actions");
    actions.append(button("Kick", "kick", "danger"));
    if (others.length) {
      const select = document.createElement("select");
      select.dataset.destination = "";
      select.setAttribute("aria-label", `Mount to move listener ${info.id} to`);
      for (const other of others) {
        const option = document.createElement("option");
        option.value = other;
        option.textContent = other;
        select.append(option);
      }
      actions.append(select, button("Move", "move"));
    }
    tr.append(actions);
    return tr;
  }

  function sourceText(mount) {
    const source = mount.source || {};
    if (source.kind === "live") return `Live: ${mount.name} (${source.name})`;
    if (source.kind === "programme") return `Programme (${source.name})`;
    return "Nothing";
  }

  function setField(article, name, text) {
    const element = article.querySelector(`[data-field="${name}"]`);
    if (element && element.textContent !== text) element.textContent = text;
  }

  function update(mounts) {
    for (const mount of mounts) {
      const article = document.querySelector(`article[data-mount="${CSS.escape(mount.mount)}"]`);
      if (!article) continue;
      setField(article, "title", mount.title || "Nothing yet");
      setField(article, "source", sourceText(mount));
      setField(article, "listeners", String(mount.listeners));
      setField(article, "hlsListeners", mount.hlsListeners === null ? "-" : String(mount.hlsListeners));
      setField(article, "peak", String(mount.peak));
      const state = article.querySelector('[data-field="state"]');
      state.textContent = mount.live ? "Live" : (mount.onAir ? "On air" : "Off air");
      state.dataset.onAir = mount.onAir ? "1" : "0";
      article.querySelector('[data-action="skip"]').disabled = !(mount.canSkip && !mount.live);
      article.querySelector('[data-action="kill-source"]').disabled = !mount.live;
      const others = (article.dataset.others || "").split(" ").filter(Boolean);
      const body = article.querySelector('[data-field="listenerList"]');
      // Keep rows whose select the operator is using; rebuild the rest.
      const focused = body.contains(document.activeElement) ? document.activeElement.closest("tr") : null;
      const rows = mount.listenerList.map((info) =>
        focused && focused.dataset.listener === info.id ? focused : listenerRow(mount.mount, others, info));
      body.replaceChildren(...rows);
      article.querySelector('[data-field="empty"]').hidden = rows.length > 0;
    }
  }

  async function refresh() {
    try {
      const response = await fetch("/admin/mounts", {
        headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin",
      });
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      const data = await response.json();
      update(data.mounts);
      updated.textContent = new Date().toLocaleTimeString();
      main.dataset.refreshed = String(Number(main.dataset.refreshed || 0) + 1);
      if (errorLine.dataset.fromPoll) { showError(""); delete errorLine.dataset.fromPoll; }
    } catch (error) {
      showError(`Cannot read the mounts: ${error.message}`);
      errorLine.dataset.fromPoll = "1";
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(async () => { if (!document.hidden) await refresh(); schedule(); }, period);
  }

  async function act(action, fields) {
    showError("");
    let response, answer = {};
    try {
      response = await fetch(`/admin/${action}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Requested-With": "txradio-admin" },
        body: JSON.stringify(fields), credentials: "same-origin", cache: "no-store",
      });
      answer = await response.json().catch(() => ({}));
    } catch (error) {
      showError(`${action} failed: ${error.message}`);
      return null;
    }
    if (!response.ok) {
      showError(`${action} failed: ${answer.error || response.status}`);
      return null;
    }
    await refresh();
    return answer;
  }

  async function onClick(event) {
    const target = event.target.closest("button[data-action]");
    if (!target || target.type === "submit") return;
    const action = target.dataset.action;
    const article = target.closest("article[data-mount]");
    if (action === "reload-config") {
      const output = document.querySelector("[data-reload-answer]");
      output.textContent = "Reloading…";
      const answer = await act(action, {});
      output.textContent = answer ? (answer.summary || "Reloaded.") : "Not reloaded (see the error above).";
      return;
    }
    const mount = article.dataset.mount;
    const row = target.closest("tr[data-listener]");
    if (action === "kick") {
      if (await act("kick", { mount, listener: row.dataset.listener })) showNotice(`Listener ${row.dataset.listener} kicked.`);
    } else if (action === "move") {
      const destination = row.querySelector("select[data-destination]").value;
      if (await act("move", { mount, listener: row.dataset.listener, destination }))
        showNotice(`Listener ${row.dataset.listener} moved to ${destination}.`);
    } else if (action === "skip") {
      const answer = await act("skip", { mount });
      if (answer) showNotice(`Skipped "${answer.skipped}" on ${mount}.`);
    } else if (action === "kill-source") {
      if (window.confirm(`End the live source of ${mount}?`) && (await act("kill-source", { mount })))
        showNotice(`The live source of ${mount} was ended.`);
    }
  }

  async function onSubmit(event) {
    const form = event.target.closest("form[data-action=title]");
    if (!form) return;
    event.preventDefault();
    const mount = form.closest("article[data-mount]").dataset.mount;
    const title = form.elements.title.value;
    if (await act("title", { mount, title })) {
      showNotice(`Title of ${mount} set.`);
      form.reset();
    }
  }

  document.addEventListener("click", onClick);
  document.addEventListener("submit", onSubmit);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  refresh();
  schedule();
  // The audience charts: drawn again every minute (a new query string
  // defeats any cache; the server sends no-store anyway).
  setInterval(() => {
    if (document.hidden) return;
    for (const img of document.querySelectorAll("img[data-chart]")) {
      const url = new URL(img.getAttribute("src"), location.href);
      url.searchParams.set("t", Date.now());
      img.src = url.pathname + url.search;
    }
  }, 60000);
  window.txradioAdmin = { refresh };
})();
