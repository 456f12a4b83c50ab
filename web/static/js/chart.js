// Small SVG charts: a two-line throughput chart and sparklines.

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function path(points, x, y) {
  return points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// lineChart draws series of [time ms, value] pairs into a new <svg>.
export function lineChart(series, { width = 800, height = 180, label = "Chart", format = String } = {}) {
  const el = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  const pad = { l: 56, r: 8, t: 8, b: 20 };
  const all = series.flatMap((s) => s.points);
  const now = Date.now();
  const t0 = all.length ? Math.min(...all.map((p) => p[0])) : now - 60000;
  const t1 = all.length ? Math.max(...all.map((p) => p[0]), t0 + 1000) : now;
  const vmax = niceMax(Math.max(0, ...all.map((p) => p[1])));
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - (v / vmax) * (height - pad.t - pad.b);
  for (const f of [0, 0.5, 1]) {
    el.append(svg("line", { class: "axis", x1: pad.l, x2: width - pad.r, y1: y(vmax * f), y2: y(vmax * f) }));
    const t = svg("text", { x: pad.l - 6, y: y(vmax * f) + 4, "text-anchor": "end" });
    t.textContent = format(vmax * f);
    el.append(t);
  }
  const tl = svg("text", { x: pad.l, y: height - 4 });
  tl.textContent = `${Math.round((t1 - t0) / 1000)}s ago`;
  const tr = svg("text", { x: width - pad.r, y: height - 4, "text-anchor": "end" });
  tr.textContent = "now";
  el.append(tl, tr);
  for (const s of series) {
    if (s.points.length > 1) el.append(svg("path", { class: s.class, d: path(s.points, x, y) }));
  }
  return el;
}

// sparkline draws two small lines (in and out).
export function sparkline(inPts, outPts, label) {
  const w = 90, hgt = 22;
  const el = svg("svg", { class: "spark", viewBox: `0 0 ${w} ${hgt}`, role: "img", "aria-label": label });
  const all = [...inPts, ...outPts];
  if (all.length < 2) return el;
  const t0 = Math.min(...all.map((p) => p[0]));
  const t1 = Math.max(...all.map((p) => p[0]), t0 + 1);
  const vmax = Math.max(1, ...all.map((p) => p[1]));
  const x = (t) => ((t - t0) / (t1 - t0)) * (w - 2) + 1;
  const y = (v) => hgt - 2 - (v / vmax) * (hgt - 4);
  if (inPts.length > 1) el.append(svg("path", { class: "line-in", d: path(inPts, x, y) }));
  if (outPts.length > 1) el.append(svg("path", { class: "line-out", d: path(outPts, x, y) }));
  return el;
}
