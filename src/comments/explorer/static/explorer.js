// The explorer's only script (no inline script anywhere: the pages' CSP forbids it).
// 1. Comments list: results follow the search box as you type (the same page, fetched).
// 2. Label mode: one key press sets a comment's stance and moves to the next.
"use strict";

(function () {
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // ------------------------------------------------------------------ live search
  const form = document.getElementById("filters");
  const q = document.getElementById("q");
  // The form's URL without empty fields and defaults, so a shared link says only what it filters.
  const formUrl = () => {
    const params = new URLSearchParams(new FormData(form));
    for (const [k, v] of [...params.entries()]) {
      const field = form.elements.namedItem(k);
      if (v === "" || (field && field.dataset && field.dataset.default === v)) params.delete(k);
    }
    return form.getAttribute("action") + (params.toString() ? "?" + params : "");
  };
  if (form && q) {
    let timer = null;
    let seq = 0;
    form.addEventListener("submit", (e) => { e.preventDefault(); window.location.assign(formUrl()); });
    const refresh = () => {
      const url = formUrl();
      const mine = ++seq;
      fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then((r) => r.text())
        .then((html) => {
          if (mine !== seq) return; // a later keystroke won
          const doc = new DOMParser().parseFromString(html, "text/html");
          const fresh = doc.getElementById("results");
          const old = document.getElementById("results");
          if (fresh && old) {
            old.replaceWith(document.importNode(fresh, true));
            history.replaceState(null, "", url);
          }
        })
        .catch(() => {});
    };
    q.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 200);
    });
    form.querySelectorAll("select, input[type=checkbox], input[type=date]").forEach(
      (s) => s.addEventListener("change", () => window.location.assign(formUrl())));
  }

  // ------------------------------------------------------------------ label mode
  const deck = document.getElementById("label-deck");
  if (!deck) return;
  const keys = {};
  for (const pair of (deck.dataset.keys || "").split(",")) {
    const [k, stance] = pair.split("=");
    if (k) keys[k] = stance;
  }
  const themes = (deck.dataset.themes || "").split(",").filter(Boolean);
  const message = document.getElementById("label-message");
  const count = document.getElementById("label-count");
  let theme = null;
  const cards = () => Array.from(deck.querySelectorAll("article.card"));
  const current = () => deck.querySelector("article.card.current") || cards()[0];
  const say = (text) => { if (message) message.textContent = text; };

  function move(step) {
    const all = cards();
    const i = all.indexOf(current());
    const next = all[i + step];
    if (!next) {
      if (step > 0) window.location.assign(deck.dataset.reload);
      return;
    }
    all[i].classList.remove("current");
    next.classList.add("current");
    next.scrollIntoView({ block: "start" });
  }

  function label(stance) {
    const card = current();
    if (!card) return;
    const body = { comment_id: card.dataset.comment, stance: stance, theme_id: theme };
    card.classList.add("saving");
    fetch(deck.dataset.post, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    })
      .then((r) => r.json().then((j) => ({ ok: r.ok, j })))
      .then(({ ok, j }) => {
        card.classList.remove("saving");
        if (!ok) { say("not saved: " + j.message); return; }
        card.classList.add("labeled");
        card.dataset.labeled = stance;
        const verdict = card.querySelector(".verdict");
        if (verdict) verdict.textContent = "→ " + stance + (theme ? " · " + theme : "") + (j.status === "queued" ? " (queued)" : "");
        if (count && typeof j.label_count === "number") count.textContent = j.label_count.toLocaleString("en-US");
        say(j.status === "queued" ? "queued: " + j.message : "saved " + card.dataset.comment + ": " + stance);
        move(1);
      })
      .catch(() => { card.classList.remove("saving"); say("not saved: the explorer did not answer"); });
  }

  document.querySelectorAll("button.label-button").forEach(
    (b) => b.addEventListener("click", () => label(b.dataset.stance)));

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
    const k = e.key.toLowerCase();
    if (keys[k]) { e.preventDefault(); label(keys[k]); }
    else if (k === "x" || k === "j") { e.preventDefault(); move(1); }
    else if (k === "k") { e.preventDefault(); move(-1); }
    else if (/^[0-9]$/.test(k)) {
      e.preventDefault();
      theme = k === "0" ? null : (themes[Number(k) - 1] || null);
      say(theme ? "theme for the next label: " + theme : "no theme for the next label");
    }
  });
})();
