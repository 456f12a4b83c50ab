// Formatting, parsing and DOM helpers shared by the pages.

// h builds an element: h("a", {href: "#/"}, "text", child). Text is always
// set as text, never parsed as HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const num = (v) => Number(v ?? 0);

export function count(v) {
  return num(v).toLocaleString("en-US");
}

export function rate(v) {
  const n = num(v);
  if (n === 0) return "0/s";
  if (n < 10) return `${n.toFixed(1)}/s`;
  if (n < 10000) return `${Math.round(n).toLocaleString("en-US")}/s`;
  return `${(n / 1000).toFixed(1)}k/s`;
}

// bytes mirrors units.HumanSize: 512B, 1.5KiB, 1.04MiB.
export function bytes(v) {
  let n = num(v);
  if (n < 1024) return `${n}B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  n /= 1024;
  while (i < units.length - 1 && n >= 1024) { n /= 1024; i++; }
  const prec = n >= 100 ? 0 : n >= 10 ? 1 : 2;
  return `${Number(n.toFixed(prec))}${units[i]}`;
}

// duration renders a protobuf JSON duration ("86400s") the CLI's way
// (units.FormatDuration): 2w, 30d, 1d12h, 1h30m.
export function duration(d) {
  if (!d) return "";
  let s = Math.round(parseFloat(d));
  if (!s) return "";
  const parts = [];
  const days = Math.floor(s / 86400); s %= 86400;
  if (days && days % 7 === 0) { parts.push(`${days / 7}w`); }
  else if (days) parts.push(`${days}d`);
  const hrs = Math.floor(s / 3600); s %= 3600;
  const mins = Math.floor(s / 60); s %= 60;
  if (hrs) parts.push(`${hrs}h`);
  if (mins) parts.push(`${mins}m`);
  if (s) parts.push(`${s}s`);
  return parts.join("");
}

export function time(ts) {
  if (!ts) return "";
  const d = new Date(ts);
  return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function ago(ts) {
  if (!ts) return "";
  const s = Math.max(0, Math.round((Date.now() - new Date(ts).getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

// The CLI's parsers (sdk/units), with its messages.
const sizeUnits = { "": 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

export function parseSize(s) {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)$/.exec(s.trim());
  if (!m) throw new Error(`want a size such as 512, 64KiB, 8MiB or 1GB, got "${s}"`);
  const mult = sizeUnits[m[2].toLowerCase()];
  if (mult === undefined) throw new Error(`unknown unit "${m[2]}" in "${s}" (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)`);
  const v = parseFloat(m[1]) * mult;
  if (v !== Math.trunc(v)) throw new Error(`size "${s}" is not a whole number of bytes`);
  if (v > Number.MAX_SAFE_INTEGER) throw new Error(`size "${s}" too large`);
  return v;
}

const durUnits = { ns: 1e-9, us: 1e-6, "µs": 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

// parseDuration returns seconds: a Go duration, also accepting weeks and
// days in front (2w, 7d, 1d12h), as units.ParseDuration does.
export function parseDuration(s) {
  const bad = new Error(`want a duration such as 500ms, 30s, 5m, 24h, 7d or 2w, got "${s}"`);
  const dm = /^(?:([0-9]+)w)?(?:([0-9]+)d)?(.*)$/.exec(s);
  if (!dm || dm[0] === "") throw bad;
  let total = (Number(dm[1] || 0) * 7 + Number(dm[2] || 0)) * 86400;
  let rest = dm[3];
  if (rest === "") {
    if (dm[1] === undefined && dm[2] === undefined) throw bad;
    return total;
  }
  if (rest.startsWith("+")) rest = rest.slice(1);
  if (rest === "0") return total;
  const re = /([0-9]+\.?[0-9]*|\.[0-9]+)(ns|us|µs|ms|s|m|h)/y;
  let matched = 0;
  let m;
  while ((m = re.exec(rest)) !== null) { total += parseFloat(m[1]) * durUnits[m[2]]; matched = re.lastIndex; }
  if (matched !== rest.length || rest === "") throw bad;
  return total;
}

export const validName = (s) => /^[a-zA-Z0-9._-]{1,128}$/.test(s) && s !== "." && s !== "..";

// value renders message bytes: pretty JSON when they parse, text when
// printable UTF-8, hex otherwise.
export function renderBytes(u8) {
  if (!u8 || u8.length === 0) return { kind: "empty", text: "" };
  let text;
  try { text = new TextDecoder("utf-8", { fatal: true }).decode(u8); } catch { text = null; }
  if (text !== null) {
    try { return { kind: "json", text: JSON.stringify(JSON.parse(text), null, 2) }; } catch { /* not JSON */ }
    if (!/[\x00-\x08\x0e-\x1f\x7f]/.test(text)) return { kind: "text", text };
  }
  const hex = Array.from(u8.slice(0, 4096), (b) => b.toString(16).padStart(2, "0"));
  const lines = [];
  for (let i = 0; i < hex.length; i += 16) lines.push(hex.slice(i, i + 16).join(" "));
  return { kind: "hex", text: lines.join("\n") + (u8.length > 4096 ? `\n… ${u8.length - 4096} more bytes` : "") };
}

export function stateName(s) {
  return (s || "CONNECTOR_STATE_UNSPECIFIED").replace("CONNECTOR_STATE_", "").toLowerCase();
}

// toast shows a short message in the status region.
export function toast(message, { error = false } = {}) {
  const box = document.getElementById("status");
  const t = h("div", { class: error ? "toast error" : "toast", role: error ? "alert" : undefined }, message);
  box.append(t);
  setTimeout(() => t.remove(), error ? 8000 : 4000);
}

// confirmDialog asks in a <dialog> (keyboard- and test-friendly, unlike
// window.confirm) and resolves true when confirmed.
export function confirmDialog(title, text, action) {
  return new Promise((resolve) => {
    const dlg = h("dialog", { "aria-labelledby": "confirm-title" },
      h("form", { method: "dialog" },
        h("h2", { id: "confirm-title" }, title), h("p", {}, text),
        h("div", { class: "form-actions" },
          h("button", { type: "submit", class: "danger", value: "yes", id: "confirm-yes" }, action),
          h("button", { type: "submit", class: "ghost", value: "no" }, "Cancel"))));
    dlg.addEventListener("close", () => { resolve(dlg.returnValue === "yes"); dlg.remove(); });
    document.body.append(dlg);
    dlg.showModal();
  });
}
