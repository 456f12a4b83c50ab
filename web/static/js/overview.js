import { api } from "./api.js";
import { h, replace, count, rate, bytes, num, stateName } from "./fmt.js";
import { lineChart } from "./chart.js";

// sumHistory adds the stations' rate histories up per sample time.
export function sumHistory(stationRates) {
  const byTime = new Map();
  for (const s of stationRates) {
    for (const p of s.history || []) {
      const t = Date.parse(p.time);
      const cur = byTime.get(t) || [0, 0];
      cur[0] += num(p.messagesIn);
      cur[1] += num(p.messagesOut);
      byTime.set(t, cur);
    }
  }
  const times = [...byTime.keys()].sort((a, b) => a - b);
  return { in: times.map((t) => [t, byTime.get(t)[0]]), out: times.map((t) => [t, byTime.get(t)[1]]) };
}

export function overview() {
  let cards, chart, failing;
  const card = (id, label) => h("div", { class: "card" }, h("div", { class: "label", id: `l-${id}` }, label),
    h("div", { class: "value", "data-metric": id, "aria-labelledby": `l-${id}` }, "–"));
  return {
    title: "Overview",
    render(main) {
      cards = h("section", { class: "cards", "aria-label": "Totals" },
        card("nodes", "Nodes"), card("stations", "Stations"), card("in", "Messages in"), card("out", "Messages out"),
        card("stored", "Bytes stored"), card("messages", "Messages stored"), card("connectors", "Connectors healthy"),
        card("failed", "Connectors failed"), card("deadletters", "Dead letters"));
      chart = h("div", { class: "panel" });
      failing = h("div");
      main.append(h("h1", {}, "Overview"), cards,
        h("h2", {}, "Throughput"), h("div", { class: "legend" }, h("span", { class: "in" }, "in"), h("span", { class: "out" }, "out")),
        chart, failing);
    },
    async refresh() {
      const [st, rates, conns] = await Promise.all([api.listStations(), api.rates(), api.listConnectors()]);
      const stations = st.stations || [];
      const stats = st.stats || [];
      let stored = 0, messages = 0, dead = 0;
      const dlqs = new Set(stations.map((s) => s.deadLetterStation).filter(Boolean));
      stations.forEach((s, i) => {
        stored += num(stats[i]?.bytes);
        messages += num(stats[i]?.messages);
        if (dlqs.has(s.name)) dead += num(stats[i]?.messages);
      });
      let rin = 0, rout = 0;
      for (const r of rates.stations || []) { rin += num(r.current?.messagesIn); rout += num(r.current?.messagesOut); }
      const cs = conns.connectors || [];
      const failed = cs.filter((c) => stateName(c.state) === "failed");
      const healthy = cs.filter((c) => stateName(c.state) === "running");
      const set = (id, v) => { cards.querySelector(`[data-metric="${id}"]`).textContent = v; };
      set("nodes", "1");
      set("stations", count(stations.length));
      set("in", rate(rin));
      set("out", rate(rout));
      set("stored", bytes(stored));
      set("messages", count(messages));
      set("connectors", `${healthy.length} / ${cs.length}`);
      set("failed", count(failed.length));
      set("deadletters", count(dead));
      const hist = sumHistory(rates.stations || []);
      replace(chart, lineChart([{ points: hist.in, class: "line-in" }, { points: hist.out, class: "line-out" }],
        { width: Math.max(320, chart.clientWidth - 34), label: `Messages per second in and out; now ${rate(rin)} in, ${rate(rout)} out`, format: (v) => rate(v) }));
      replace(failing, failed.length ? [h("h2", {}, "Failed connectors"), h("ul", {}, failed.map((c) =>
        h("li", {}, h("a", { href: "#/connectors" }, c.name), ": ", h("span", { class: "error-text" }, c.lastError || "failed"))))] : []);
    },
  };
}
