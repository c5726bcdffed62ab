// netkit monitor's dashboard: instant filtering of the overview's rows and live updates
// over server-sent events (/events). Everything from the server goes in as text
// (textContent), never as HTML. The pages work without this file: the filter form submits.
"use strict";
(function () {
  const form = document.getElementById("filter");
  const here = document.body.dataset.here || "";   // rows checked only here carry no data-loc
  const shownEl = document.getElementById("shown");

  function rowMatches(r, f, group) {
    if (f.state && r.querySelector(".st").textContent !== f.state) return false;
    if (f.label) {
      const labels = r.dataset.l ? r.dataset.l.split(" ") : [];  // absent: no labels
      const keyOnly = f.label.indexOf("=") < 0;
      if (!labels.some(l => keyOnly ? l.split("=")[0] === f.label : l === f.label)) return false;
    }
    if (f.location && (r.dataset.loc || here).split(" ").indexOf(f.location) < 0) return false;
    if (f.q && (r.dataset.id + " " + group + " " + (r.dataset.l || "")).toLowerCase().indexOf(f.q) < 0) return false;
    return true;
  }

  function applyFilter() {
    const f = { q: form.q.value.trim().toLowerCase(), state: form.state.value, group: form.group.value,
                label: form.label.value, location: form.location.value };
    let shown = 0;
    for (const sec of document.querySelectorAll("section.grp")) {
      let n = 0;
      const group = sec.dataset.group;
      if (f.group && group !== f.group) {
        if (!sec.hidden) sec.hidden = true;
        continue;
      }
      for (const r of sec.querySelectorAll("div.r")) {
        const ok = rowMatches(r, f, group);
        if (r.hidden === ok) r.hidden = !ok;
        if (ok) n++;
      }
      sec.hidden = n === 0;
      shown += n;
    }
    if (shownEl) shownEl.textContent = String(shown);
    const params = new URLSearchParams(new FormData(form));
    for (const [k, v] of [...params]) if (!v) params.delete(k);
    const qs = params.toString();
    history.replaceState(null, "", qs ? "?" + qs : location.pathname);
  }

  if (form) {
    // A page the server filtered holds only its matches: a wider filter needs the server.
    const serverFiltered = form.dataset.filtered === "1";
    let timer = null;
    const onChange = () => {
      clearTimeout(timer);
      timer = setTimeout(serverFiltered ? () => form.submit() : applyFilter, serverFiltered ? 400 : 60);
    };
    form.addEventListener("input", onChange);
    form.addEventListener("change", onChange);
    form.addEventListener("submit", ev => { if (!serverFiltered) { ev.preventDefault(); applyFilter(); } });
  }

  function flag(text, cls) {
    const i = document.createElement("i");
    i.className = cls;
    i.textContent = text;
    return i;
  }

  // A row's cell, made when the page left it out (empty); CSS puts it in its column.
  function cell(r, cls) {
    let c = r.querySelector("." + cls);
    if (!c) {
      c = document.createElement("i");
      c.className = cls;
      r.append(c);
    }
    return c;
  }

  function updateRow(d) {
    const sel = '[data-id="' + CSS.escape(d.id) + '"]';
    const r = document.querySelector("div.r" + sel);
    if (r) {
      r.className = "r s" + d.s + " changed";
      r.querySelector(".st").textContent = d.t;
      cell(r, "m").textContent = d.sum;
      const fl = cell(r, "fl");
      fl.replaceChildren();
      if (d.soft) fl.append(flag("last " + d.last, "soft"));
    }
    const badge = document.querySelector(".badge" + '[data-target="' + CSS.escape(d.id) + '"]');
    if (badge) {
      badge.className = "badge s" + d.s;
      badge.textContent = d.t;
    }
  }

  const liveEl = document.getElementById("live");
  if (document.body.dataset.live === "1" && window.EventSource) {
    const es = new EventSource("/events");
    es.addEventListener("open", () => { if (liveEl) { liveEl.textContent = "live"; liveEl.classList.add("on"); } });
    es.addEventListener("error", () => { if (liveEl) { liveEl.textContent = "reconnecting"; liveEl.classList.remove("on"); } });
    es.addEventListener("row", ev => updateRow(JSON.parse(ev.data)));
    es.addEventListener("counts", ev => {
      const counts = JSON.parse(ev.data);
      for (const el of document.querySelectorAll("[data-count]")) el.textContent = String(counts[el.dataset.count] || 0);
    });
  }
})();
