import { api, fromB64 } from "./api.js";
import { h, replace, count, num, time, renderBytes, toast, confirmDialog } from "./fmt.js";

function preview(b64, open) {
  const r = renderBytes(fromB64(b64));
  if (r.kind === "empty") return h("span", { class: "muted" }, "empty");
  const line = r.kind === "json" ? JSON.stringify(JSON.parse(r.text)) : r.text.replace(/\s+/g, " ");
  return h("details", { class: `msg-value kind-${r.kind}`, open }, h("summary", { class: "mono" }, line.length > 70 ? `${line.slice(0, 70)}…` : line), h("pre", {}, r.text));
}

export function deadLetters([selected]) {
  let picker, list, summary, station = selected || "";
  async function load() {
    if (!station) { replace(list); replace(summary); return; }
    let r;
    try {
      r = await api.listDeadLetters(station);
    } catch (e) {
      if (e.code !== "not_found") throw e;
      r = {}; // the broker creates a dead-letter station with its first message
    }
    const msgs = r.messages || [];
    const waiting = msgs.filter((m) => !m.replayed).length;
    const opened = new Set([...list.querySelectorAll("tr[data-dead-letter] details[open]")].map((d) => d.closest("tr").dataset.deadLetter));
    replace(summary, `${count(msgs.length)} dead letters in ${station}${msgs.length >= 200 ? " (the oldest 200)" : ""}; ${count(waiting)} not replayed.`);
    replace(list, msgs.length ? h("div", { class: "tablewrap" }, h("table", { "aria-label": `Dead letters of ${station}` },
      h("thead", {}, h("tr", {}, ["Offset", "Time", "Reason", "Origin", "Group", "Deliveries", "Error", "Value", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, msgs.map((m) => h("tr", { "data-dead-letter": `${m.partition || 0}/${m.offset || 0}`, "data-replayed": m.replayed ? "true" : "false" },
        h("td", { class: "num" }, `${m.partition || 0}/${m.offset || 0}`), h("td", {}, time(m.timestamp)),
        h("td", {}, m.reason || ""),
        h("td", {}, m.originStation ? h("a", { href: `#/stations/${encodeURIComponent(m.originStation)}` }, m.originStation) : "–",
          m.hasOriginOffset ? ` ${m.originPartition || 0}/${m.originOffset || 0}` : ""),
        h("td", {}, m.group || "–"), h("td", { class: "num" }, num(m.deliveries) || "–"),
        h("td", { class: "wrap error-text" }, m.error ? `${m.schema ? m.schema + ": " : ""}${m.error}` : ""),
        h("td", { class: "wrap" }, preview(m.value, opened.has(`${m.partition || 0}/${m.offset || 0}`))),
        h("td", {}, m.replayed ? h("span", { class: "badge ok" }, "replayed")
          : h("button", { type: "button", class: "ghost", "aria-label": `Replay ${m.partition || 0}/${m.offset || 0}`, onclick: () => replay({ station, partition: m.partition || 0, offset: String(m.offset || 0) }) }, "Replay")))))))
      : h("p", { class: "panel empty" }, "No dead letters here."));
  }
  async function replay(req) {
    try {
      const r = await api.replayDeadLetters(req);
      const failed = r.failed || [];
      toast(`Replayed ${count(r.replayed)}${num(r.alreadyReplayed) ? `, ${count(r.alreadyReplayed)} already replayed` : ""}${failed.length ? `, ${failed.length} failed` : ""}`);
      for (const f of failed.slice(0, 3)) toast(`${f.partition || 0}/${f.offset || 0}: ${f.error}`, { error: true });
      await load();
    } catch (e) { toast(e.message, { error: true }); }
  }
  return {
    title: "Dead letters",
    async render(main) {
      picker = h("select", { id: "dlq-station", onchange: () => { location.hash = `#/deadletters/${encodeURIComponent(picker.value)}`; } });
      list = h("div");
      summary = h("p", { class: "muted", "aria-live": "polite" });
      main.append(h("h1", {}, "Dead letters"),
        h("div", { class: "toolbar" }, h("label", { for: "dlq-station" }, "Dead-letter station", picker),
          h("button", { type: "button", id: "replay-all", onclick: () => station && replay({ station, all: true }) }, "Replay all"),
          h("button", { type: "button", class: "danger", id: "purge", onclick: async () => {
            if (!station || !(await confirmDialog(`Purge ${station}?`, "Every message now in it is dropped. This cannot be undone.", "Purge"))) return;
            try { const r = await api.purgeDeadLetters(station); toast(`Purged ${count(r.purged)} messages`); await load(); }
            catch (e) { toast(e.message, { error: true }); }
          } }, "Purge")),
        summary, list);
      const st = await api.listStations();
      const names = [...new Set((st.stations || []).map((s) => s.deadLetterStation).filter(Boolean))].sort();
      if (!station && names.length) station = names[0];
      if (station && !names.includes(station)) names.push(station);
      replace(picker, names.length ? names.map((n) => h("option", { value: n, selected: n === station }, n)) : h("option", { value: "" }, "none configured"));
      picker.disabled = !names.length;
    },
    refresh: load,
  };
}
