// The dragoman console: hash-routed pages over the JSON API under
// /console/api, with the key in sessionStorage. No framework, no build.
"use strict";
(function () {
  const API = "/console/api";
  const KEY = "dragoman.console.key";
  const POLL_MS = 2000;
  const $ = (sel) => document.querySelector(sel);
  let timer = null;
  let lastTraffic = null;
  let session = null;
  let storeState = { collection: "", q: "", offset: 0 };

  // el builds an element; text children are text nodes, never HTML.
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined) continue;
      e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }
  const fill = (node, ...kids) => { node.replaceChildren(...kids.flat(Infinity)); return node; };
  const say = (msg) => { $("#status").textContent = msg; };

  class APIError extends Error { constructor(status, msg) { super(msg); this.status = status; } }

  async function api(path, opts) {
    const key = sessionStorage.getItem(KEY);
    const res = await fetch(API + path, Object.assign({}, opts, { headers: { Authorization: "Bearer " + key } }));
    if (res.status === 401) { signOut("That key is not known: sign in again."); throw new APIError(401, "unauthorized"); }
    if (res.status === 204) return null;
    let body = null;
    try { body = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) throw new APIError(res.status, (body && body.error) || res.statusText);
    return body;
  }

  function fmtBytes(n) {
    if (n < 1024) return n + " B";
    const u = ["KiB", "MiB", "GiB", "TiB"];
    let i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
    return n.toFixed(1) + " " + u[i];
  }
  const fmtMS = (v) => (v === null || v === undefined ? "–" : v < 10 ? v.toFixed(2) : v.toFixed(1));
  const fmtTime = (s) => { const d = new Date(s); return isNaN(d) ? s : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z"); };
  function fmtDuration(sec) {
    if (sec < 0) return "unknown";
    sec = Math.round(sec);
    const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
  }

  // ---- sign in ----
  function signOut(msg) {
    sessionStorage.removeItem(KEY);
    session = null;
    stopPolling();
    $("#nav").hidden = true;
    $("#who").hidden = true;
    document.querySelectorAll("section[data-page]").forEach((s) => (s.hidden = true));
    $("#login").hidden = false;
    $("#login-error").textContent = msg || "";
    $("#key").focus();
  }

  async function signIn() {
    try {
      session = await api("/session");
    } catch (e) {
      if (e.status !== 401) signOut("The console cannot be reached: " + e.message);
      return;
    }
    $("#login").hidden = true;
    $("#nav").hidden = false;
    $("#who").hidden = false;
    $("#who-name").textContent = "key " + session.key + (session.read_only ? " (read-only)" : "");
    route();
  }

  $("#login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = $("#key").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY, key);
    $("#key").value = "";
    signIn();
  });
  $("#logout").addEventListener("click", () => signOut(""));

  // ---- pages ----
  const pages = { dialects: showDialects, traffic: showTraffic, store: showStore, migration: showMigration };

  function stopPolling() { if (timer) { clearTimeout(timer); timer = null; } }

  function route() {
    if (!session) return;
    stopPolling();
    let name = location.hash.replace(/^#/, "");
    if (!pages[name]) name = "dialects";
    document.querySelectorAll("section[data-page]").forEach((s) => (s.hidden = s.dataset.page !== name));
    document.querySelectorAll("nav a").forEach((a) => {
      if (a.dataset.page === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    document.title = name + " · dragoman console";
    pages[name]().catch(showError);
  }
  window.addEventListener("hashchange", () => { route(); $("#main").focus(); });

  function showError(e) {
    if (e instanceof APIError && e.status === 401) return;
    say("Error: " + e.message);
    const sec = document.querySelector("section[data-page]:not([hidden])");
    if (sec) {
      let p = sec.querySelector(".error.page-error");
      if (!p) { p = el("p", { class: "error page-error", role: "alert" }); sec.prepend(p); }
      p.textContent = e.message;
    }
  }

  // Dialects and routes, and the matrix column of the upstream in use.
  async function showDialects() {
    const d = await api("/dialects");
    const up = d.upstream;
    const upBox = fill($("#upstream"),
      el("p", {}, "Upstream: ", el("strong", { id: "upstream-name" }, up.name),
        up.dialect ? " (spoken to in the " + up.dialect + " dialect)" : " (the bundled store: every route of every dialect works)"));
    if (up.capabilities.length) {
      upBox.append(el("details", {}, el("summary", {}, "What " + up.dialect + " can do as an upstream"),
        el("ul", { class: "tags" }, up.capabilities.map((c) =>
          el("li", { class: c.ok ? "" : "no" }, c.capability + ": " + c.means)))));
    }
    fill($("#dialect-list"), d.dialects.map((dl) => {
      const gaps = new Map(dl.gaps.map((g) => [g.route, g]));
      const works = dl.gaps.length === 0
        ? el("p", { class: "ok" }, "Every route works in front of this upstream.")
        : el("div", {}, el("p", { class: "bad" }, dl.gaps.length + " route(s) do not fully work in front of " + up.dialect + ":"),
          el("ul", { class: "gaps" }, dl.gaps.map((g) => el("li", { "data-gap": g.route },
            el("code", {}, g.route), g.partly ? " works but for requests that need " + g.lacks.join(" and ")
              : " answers 'unsupported': the upstream cannot do " + g.lacks.join(", ")))));
      return el("section", { class: "card", "data-dialect": dl.name, "aria-labelledby": "d-" + dl.name },
        el("h3", { id: "d-" + dl.name }, dl.title || dl.name, " ", el("code", {}, dl.name)),
        el("dl", { class: "kv" },
          el("dt", {}, "mount"), el("dd", { "data-field": "mount" }, el("code", {}, dl.mount || "/")),
          el("dt", {}, "credential"), el("dd", { "data-field": "credential" }, el("code", {}, dl.credential_header + ": " + (dl.credential_scheme ? dl.credential_scheme + " " : "") + "<key>"))),
        works,
        el("details", {}, el("summary", {}, dl.routes.length + " routes"),
          el("div", { class: "scroll" }, el("table", {},
            el("thead", {}, el("tr", {}, ["route", "method", "path", "operation", "scope", "here"].map((h) => el("th", { scope: "col" }, h)))),
            el("tbody", {}, dl.routes.map((r) => {
              const g = gaps.get(r.name);
              return el("tr", { "data-route": r.name },
                el("td", {}, el("code", {}, r.name)), el("td", {}, r.method), el("td", {}, el("code", {}, r.path)),
                el("td", {}, r.op), el("td", {}, r.scope),
                el("td", { class: g ? "bad" : "ok" }, g ? (g.partly ? "partly" : "no: " + g.lacks.join(", ")) : "works"));
            }))))));
    }));
  }

  // Live traffic: counts since start from the API, rates from two polls;
  // quantiles over the API's window_s.
  async function showTraffic() {
    const all = $("#show-console").checked ? "?all=1" : "";
    const t = await api("/traffic" + all);
    const prev = lastTraffic;
    lastTraffic = t;
    const secs = prev ? (t.time - prev.time) / 1000 : 0;
    // The quantiles' window is the server's: since start until it has an
    // earlier poll to diff against, then up to a minute.
    $("#traffic-note").textContent = !t.metrics ? "Metrics are off (--metrics=false): nothing to show."
      : "Rates over the last " + (secs > 0 ? secs.toFixed(0) + " s" : "poll") + "; p50/p99 " +
        (t.window_s == null ? "since start (until a second poll)" : "over the last " + t.window_s.toFixed(0) + " s") +
        ", from the same histogram /metrics exposes.";
    const before = new Map();
    if (prev) for (const r of prev.routes.concat(prev.dialects.map((d) => Object.assign({ route: "" }, d)))) before.set(r.dialect + "\u0000" + (r.route || ""), r);
    const rate = (r) => {
      const p = before.get(r.dialect + "\u0000" + (r.route || ""));
      if (!p || secs <= 0) return "–";
      return ((r.requests - p.requests) / secs).toFixed(1);
    };
    const errRate = (r) => {
      const p = before.get(r.dialect + "\u0000" + (r.route || ""));
      if (p && r.requests > p.requests) return (100 * (r.errors - p.errors) / (r.requests - p.requests)).toFixed(0) + "%";
      return r.requests ? (100 * r.errors / r.requests).toFixed(0) + "% all" : "–";
    };
    fill($("#traffic-dialects tbody"), t.dialects.map((r) => el("tr", { "data-dialect": r.dialect || "(none)" },
      el("td", {}, r.dialect || "(gateway)"), el("td", { class: "num" }, rate(r)), el("td", { class: "num" }, errRate(r)),
      el("td", { class: "num", "data-col": "requests" }, r.requests), el("td", { class: "num" }, fmtMS(r.p50_ms)), el("td", { class: "num" }, fmtMS(r.p99_ms)))));
    fill($("#traffic-routes tbody"), t.routes.map((r) => el("tr", { "data-route": r.dialect + "/" + r.route },
      el("td", {}, r.dialect || "(gateway)"), el("td", {}, el("code", {}, r.route)), el("td", { class: "num" }, rate(r)),
      el("td", { class: "num" }, errRate(r)), el("td", { class: "num", "data-col": "requests" }, r.requests),
      el("td", { class: "num" }, fmtMS(r.p50_ms)), el("td", { class: "num" }, fmtMS(r.p99_ms)))));
    fill($("#recent tbody"), t.recent.length ? t.recent.map((r) => el("tr", { "data-request": r.request_id },
      el("td", {}, el("button", { type: "button", class: "link", "aria-label": "Show the log line of request " + r.request_id, onclick: () => showLogLine(r.request_id) }, r.request_id)),
      el("td", { class: "mono" }, fmtTime(r.time)), el("td", {}, r.dialect), el("td", {}, el("code", {}, r.route)),
      el("td", {}, r.method), el("td", { class: "mono" }, r.path), el("td", { class: "num " + (r.status >= 400 ? "bad" : "") }, r.status),
      el("td", { class: "num" }, fmtMS(r.duration_ms)), el("td", {}, r.key)))
      : [el("tr", {}, el("td", { colspan: 9, class: "hint" }, "No requests yet."))]);
    timer = setTimeout(() => showTraffic().catch(showError), POLL_MS);
  }
  $("#show-console").addEventListener("change", () => { lastTraffic = null; stopPolling(); showTraffic().catch(showError); });

  async function showLogLine(id) {
    const ans = await api("/requests/" + encodeURIComponent(id)).catch((e) => ({ line: e.message }));
    $("#log-title").textContent = "Access-log line of " + id;
    $("#log-line").textContent = ans.line;
    $("#log-dialog").showModal();
  }

  // Store browser.
  async function showStore() {
    const s = await api("/store");
    storeState.canDelete = s.can_delete;
    storeState.canList = s.can_list;
    const sel = $("#collection");
    $("#search-form").hidden = false;
    if (s.can_list) {
      fill($("#collections"), s.collections.length
        ? el("p", {}, s.collections.length + " collection(s): ", s.collections.map((c, i) => [i ? ", " : "", el("a", { href: "#store", "data-collection": c.name, onclick: (ev) => { ev.preventDefault(); sel.value = c.name; storeState = Object.assign(storeState, { collection: c.name, q: "", offset: 0 }); $("#search").value = ""; loadRecords(); } }, c.name), " (" + c.records + ")"]))
        : el("p", { class: "hint" }, "The store holds no records yet (or none this key may read)."));
      sel.hidden = false;
      $("#collection-name").hidden = true;
      fill(sel, s.collections.map((c) => el("option", { value: c.name }, c.name)));
      if (!s.collections.some((c) => c.name === storeState.collection)) storeState.collection = s.collections.length ? s.collections[0].name : "";
      sel.value = storeState.collection;
      $("label[for=collection]").hidden = false;
    } else {
      fill($("#collections"), el("p", { class: "hint" }, "This store cannot list its records (a remote system is reachable record by record): give a collection and a record id."));
      sel.hidden = true;
      $("#collection-name").hidden = false;
    }
    if (storeState.collection) await loadRecords();
    else { fill($("#files tbody")); $("#records-summary").textContent = ""; }
  }
  $("#search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    storeState.collection = storeState.canList ? $("#collection").value : $("#collection-name").value.trim();
    storeState.q = $("#search").value.trim();
    storeState.offset = 0;
    loadRecords().catch(showError);
  });
  $("#collection").addEventListener("change", () => { storeState.collection = $("#collection").value; storeState.offset = 0; loadRecords().catch(showError); });

  async function loadRecords() {
    if (!storeState.collection) return;
    const qs = new URLSearchParams({ collection: storeState.collection, q: storeState.q, offset: storeState.offset });
    const r = await api("/store/records?" + qs);
    const files = r.records.reduce((n, rec) => n + rec.files.length, 0);
    $("#records-summary").textContent = r.total + " record(s) in " + r.collection + (r.query ? " matching “" + r.query + "”" : "") +
      (r.records.length ? ", showing " + (r.offset + 1) + "–" + (r.offset + r.records.length) + " with " + files + " file(s)" : "");
    const rows = [];
    for (const rec of r.records) {
      if (!rec.files.length) rows.push(el("tr", { "data-record": rec.id }, el("td", {}, el("code", {}, rec.id)), el("td", { colspan: 8, class: "hint" }, "no files")));
      for (const a of rec.files) {
        rows.push(el("tr", { "data-attachment": a.id, "data-record": rec.id },
          el("td", {}, el("code", {}, rec.id)), el("td", { "data-col": "name" }, a.name), el("td", {}, a.field),
          el("td", { class: "num", "data-col": "size" }, fmtBytes(a.size)), el("td", {}, a.type),
          el("td", { class: "hash", "data-col": "sha256", title: a.sha256 || "" }, a.sha256 ? a.sha256.slice(0, 16) + "…" : "(no content)"),
          el("td", { class: "mono" }, fmtTime(a.created)), el("td", { "data-col": "owner" }, a.owner || ""),
          el("td", {}, el("div", { class: "row" },
            a.has_content ? el("button", { type: "button", "data-action": "download", "aria-label": "Download " + a.name, onclick: () => download(a) }, "Download") : null,
            storeState.canDelete ? el("button", { type: "button", class: "danger", "data-action": "delete", "aria-label": "Delete " + a.name, onclick: () => confirmDelete(a) }, "Delete") : null))));
      }
    }
    fill($("#files tbody"), rows.length ? rows : [el("tr", {}, el("td", { colspan: 9, class: "hint" }, "Nothing found."))]);
    const pager = fill($("#pager"));
    if (r.offset > 0) pager.append(el("button", { type: "button", onclick: () => { storeState.offset = Math.max(0, r.offset - 50); loadRecords().catch(showError); } }, "Previous"));
    if (r.offset + r.records.length < r.total) pager.append(el("button", { type: "button", onclick: () => { storeState.offset = r.offset + r.records.length; loadRecords().catch(showError); } }, "Next"));
  }

  async function download(a) {
    try {
      const l = await api("/store/attachments/" + encodeURIComponent(a.id) + "/link", { method: "POST" });
      const link = el("a", { href: l.url, download: a.name });
      document.body.append(link);
      link.click();
      link.remove();
      say("Downloading " + a.name);
    } catch (e) { showError(e); }
  }

  function confirmDelete(a) {
    const dlg = $("#delete-dialog");
    $("#delete-what").textContent = a.name + " (" + fmtBytes(a.size) + ") of " + a.record.collection + "/" + a.record.id;
    dlg.returnValue = "";
    dlg.onclose = async () => {
      if (dlg.returnValue !== "delete") return;
      try {
        await api("/store/attachments/" + encodeURIComponent(a.id), { method: "DELETE" });
        say("Deleted " + a.name);
        await loadRecords();
      } catch (e) { showError(e); }
    };
    dlg.showModal();
  }

  // Migration and mirror.
  async function showMigration() {
    const [m, mi] = await Promise.all([api("/migration"), api("/mirror")]);
    const box = fill($("#migration"));
    if (!m.configured) box.append(el("p", { id: "migration-state" }, "None shown: start serve with --migrate-status FILE (the --status file of dragoman migrate) to follow one here."));
    else if (m.error) box.append(el("p", { class: "error", id: "migration-state" }, m.error));
    else if (!m.found) box.append(el("p", { id: "migration-state" }, "None running: " + m.file + " does not exist yet."));
    else {
      const s = m.status;
      const state = m.running ? "running" : m.stale ? "stopped: no update since " + fmtTime(s.updated) + " (the migrate process is gone)" : s.state;
      const pct = s.bytes_total > 0 ? Math.min(100, 100 * s.bytes_done / s.bytes_total) : (s.files_total ? 100 * s.files_done / s.files_total : 0);
      box.append(el("p", { id: "migration-state", class: m.running ? "ok" : s.state === "done" ? "" : "bad" }, "Migration " + state),
        el("progress", { max: 100, value: pct.toFixed(1), "aria-label": "migration progress" }),
        el("dl", { class: "kv" },
          el("dt", {}, "from"), el("dd", {}, el("code", {}, s.from)), el("dt", {}, "to"), el("dd", {}, el("code", {}, s.to)),
          el("dt", {}, "files"), el("dd", { "data-field": "files" }, s.files_done + " / " + s.files_total),
          el("dt", {}, "bytes"), el("dd", { "data-field": "bytes" }, fmtBytes(s.bytes_done) + " / " + fmtBytes(s.bytes_total)),
          el("dt", {}, "rate"), el("dd", {}, fmtBytes(Math.round(s.bytes_per_second)) + "/s"),
          el("dt", {}, "ETA"), el("dd", {}, m.running ? fmtDuration(s.eta_seconds) : "–"),
          el("dt", {}, "failures"), el("dd", { "data-field": "failures", class: s.failures ? "bad" : "" }, s.failures),
          el("dt", {}, "started"), el("dd", {}, fmtTime(s.started)), el("dt", {}, "updated"), el("dd", {}, fmtTime(s.updated))));
    }
    const mb = fill($("#mirror"));
    if (!mi.configured) mb.append(el("p", { id: "mirror-state" }, "None configured (serve --mirror DIALECT+URL)."));
    else {
      const ops = Object.keys(mi.compared).sort();
      mb.append(el("p", { id: "mirror-state" }, "Mirroring to ", el("code", {}, mi.url), " (" + mi.mode + ")"),
        el("dl", { class: "kv" },
          el("dt", {}, "queue depth"), el("dd", { "data-field": "queue_depth" }, mi.queue_depth),
          el("dt", {}, "oldest entry"), el("dd", {}, mi.queue_depth ? fmtDuration(mi.oldest_seconds) + " old" : "–"),
          el("dt", {}, "applied"), el("dd", {}, mi.applied), el("dt", {}, "retries"), el("dd", {}, mi.retries),
          el("dt", {}, "dropped"), el("dd", { class: mi.dropped ? "bad" : "" }, mi.dropped),
          el("dt", {}, "shadow skipped"), el("dd", {}, mi.shadow_skipped)),
        el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "compared"), el("th", { scope: "col", class: "num" }, "reads"), el("th", { scope: "col", class: "num" }, "diffs"))),
          el("tbody", {}, ops.map((op) => el("tr", { "data-op": op }, el("td", {}, op), el("td", { class: "num" }, mi.compared[op]),
            el("td", { class: "num " + (mi.diffs[op] ? "bad" : ""), "data-col": "diffs" }, mi.diffs[op]))))));
    }
    timer = setTimeout(() => showMigration().catch(showError), POLL_MS);
  }

  if (sessionStorage.getItem(KEY)) signIn(); else signOut("");
})();
