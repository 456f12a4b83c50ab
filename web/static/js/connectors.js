import { api } from "./api.js";
import { h, replace, count, rate, num, time, ago, stateName, toast, confirmDialog } from "./fmt.js";

// yaml renders the connector's definition as applied: config comes from
// the broker with secret fields already redacted.
export function definitionYAML(c) {
  const lines = [`name: ${c.name}`, `connector: ${c.connector}`, `kind: ${c.kind}`, `station: ${c.station}`];
  if (c.dlq) lines.push(`dlq: ${c.dlq}`);
  let cfg = {};
  try { cfg = c.configJson ? JSON.parse(c.configJson) : {}; } catch { cfg = {}; }
  const emit = (v, indent) => {
    const pad = "  ".repeat(indent);
    for (const [k, x] of Object.entries(v)) {
      if (x && typeof x === "object" && !Array.isArray(x)) { lines.push(`${pad}${k}:`); emit(x, indent + 1); }
      else lines.push(`${pad}${k}: ${JSON.stringify(x)}`);
    }
  };
  if (Object.keys(cfg).length) { lines.push("config:"); emit(cfg, 1); }
  return lines.join("\n");
}

// editor is a textarea with line numbers; mark(problems) flags lines.
function editor(initial) {
  const ta = h("textarea", { id: "yaml", spellcheck: "false", "aria-label": "Connector definition (YAML)", autocomplete: "off" });
  ta.value = initial;
  const gutter = h("div", { class: "gutter", "aria-hidden": "true" });
  let bad = new Set();
  const draw = () => {
    const n = ta.value.split("\n").length;
    replace(gutter, Array.from({ length: n }, (_, i) => h("div", { class: bad.has(i + 1) ? "err" : undefined }, bad.has(i + 1) ? `! ${i + 1}` : String(i + 1))));
  };
  ta.addEventListener("input", draw);
  ta.addEventListener("scroll", () => { gutter.scrollTop = ta.scrollTop; });
  draw();
  return { el: h("div", { class: "editor" }, gutter, ta), ta, mark(lines) { bad = new Set(lines); draw(); } };
}

const SAMPLE = `name: my-sink
connector: file
kind: sink
station: orders
config:
  dir: /tmp/junction-out
`;

function applyDialog(initial, onDone) {
  const ed = editor(initial || SAMPLE);
  const problems = h("ul", { class: "problems error-text", role: "alert", id: "apply-problems" });
  const dlg = h("dialog", { "aria-labelledby": "apply-title" });
  const run = async (apply) => {
    replace(problems);
    ed.mark([]);
    ed.ta.removeAttribute("aria-invalid");
    try {
      const v = await api.validateConnector("dashboard.yaml", ed.ta.value);
      const errs = v.errors || [];
      if (errs.length) {
        ed.mark(errs.map((e) => e.line).filter(Boolean));
        ed.ta.setAttribute("aria-invalid", "true");
        ed.ta.setAttribute("aria-describedby", "apply-problems");
        replace(problems, errs.map((e) => h("li", { "data-line": e.line || "" }, e.line ? `line ${e.line}${e.column ? `:${e.column}` : ""}: ` : "", e.field ? `${e.field}: ` : "", e.message)));
        return;
      }
      if (!apply) { replace(problems, h("li", { class: "ok" }, `Valid (plugin ${v.pluginVersion || "found"}).`)); return; }
      const r = await api.applyConnector("dashboard.yaml", ed.ta.value);
      toast(`Connector ${r.connector?.name} ${r.created ? "created" : r.changed ? "updated" : "unchanged"}`);
      dlg.close();
      onDone?.();
    } catch (e) {
      replace(problems, h("li", {}, e.message));
    }
  };
  dlg.append(h("form", { onsubmit: (ev) => { ev.preventDefault(); run(true); } },
    h("h2", { id: "apply-title" }, "Apply a connector definition"),
    h("p", { class: "muted" }, "The same YAML as junction connector apply. ${VAR} references resolve from the broker's environment."),
    ed.el, problems,
    h("div", { class: "form-actions" }, h("button", { type: "submit", id: "apply-go" }, "Apply"),
      h("button", { type: "button", class: "ghost", onclick: () => run(false) }, "Validate"),
      h("button", { type: "button", class: "ghost", onclick: () => dlg.close() }, "Cancel"))));
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  ed.ta.focus();
}

export function connectors() {
  let body;
  const last = new Map(); // name -> [time ms, records out]
  const act = async (action, name, refresh) => {
    if (action === "Delete" && !(await confirmDialog(`Delete connector ${name}?`, "A sink's consumer group and a source's checkpoint go with it.", "Delete"))) return;
    try {
      await api.connectorAction(action, name);
      toast(`Connector ${name}: ${action.toLowerCase()}${action.endsWith("e") ? "d" : "ed"}`);
      await refresh();
    } catch (e) { toast(e.message, { error: true }); }
  };
  return {
    title: "Connectors",
    render(main) {
      body = h("div", { id: "connector-list" });
      main.append(h("h1", {}, "Connectors", h("button", { type: "button", id: "apply-connector", onclick: () => applyDialog("", () => this.refresh()) }, "Apply definition")), body);
    },
    async refresh() {
      const resp = await api.listConnectors();
      const list = resp.connectors || [];
      if (!list.length) { replace(body, h("p", { class: "panel empty" }, "No connectors. Apply a definition, or install plugins from the Hub.")); return; }
      const now = Date.now();
      // Keep open what the reader opened across refreshes.
      const opened = new Set([...body.querySelectorAll("section[data-connector] details[open]")].map((d) => d.closest("section").dataset.connector));
      replace(body, list.map((c) => {
        const st = stateName(c.state);
        const prev = last.get(c.name);
        const out = num(c.recordsOut);
        const rps = prev && now > prev[0] ? Math.max(0, (out - prev[1]) / ((now - prev[0]) / 1000)) : 0;
        last.set(c.name, [now, out]);
        const yaml = definitionYAML(c);
        return h("section", { class: "panel", "data-connector": c.name, "aria-labelledby": `c-${c.name}` },
          h("h2", { id: `c-${c.name}` }, c.name, " ", h("span", { class: `badge state-${st}`, "data-field": "state" }, st),
            " ", h("span", { class: "muted" }, `${c.kind} · ${c.connector}${c.pluginVersion ? `@${c.pluginVersion}` : ""} · station `, h("a", { href: `#/stations/${encodeURIComponent(c.station)}` }, c.station))),
          h("div", { class: "cards" },
            [["Records in", count(c.recordsIn)], ["Records out", count(c.recordsOut)], ["Records/s", rate(rps)], ["Rejected", count(c.recordsRejected)],
              ["Lag", c.kind === "sink" ? count(c.lag) : "–"], ["Restarts", count(c.restarts)], ["Started", c.startedAt ? ago(c.startedAt) : "–"]].map(([l, v]) =>
              h("div", { class: "card" }, h("div", { class: "label" }, l), h("div", { class: "value", "data-field": l.toLowerCase() }, v)))),
          c.lastError ? h("p", { class: "error-text", "data-field": "last-error", role: st === "failed" ? "alert" : undefined },
            `Last error (${time(c.lastErrorAt)}): ${c.lastError}`) : null,
          c.checkpoint ? h("p", { class: "muted" }, `Checkpoint: ${c.checkpoint}`) : null,
          h("details", { open: opened.has(c.name) }, h("summary", {}, "Definition (secrets masked)"), h("pre", { "data-field": "yaml" }, yaml)),
          h("div", { class: "actions" },
            st === "paused" ? h("button", { type: "button", onclick: () => act("Resume", c.name, () => this.refresh()) }, "Resume")
              : h("button", { type: "button", class: "ghost", onclick: () => act("Pause", c.name, () => this.refresh()) }, "Pause"),
            st === "failed" && h("button", { type: "button", onclick: () => act("Resume", c.name, () => this.refresh()) }, "Resume"),
            h("button", { type: "button", class: "ghost", onclick: () => act("Restart", c.name, () => this.refresh()) }, "Restart"),
            h("button", { type: "button", class: "ghost", onclick: () => applyDialog(yaml, () => this.refresh()) }, "Edit"),
            h("button", { type: "button", class: "danger", onclick: () => act("Delete", c.name, () => this.refresh()) }, "Delete")));
      }));
    },
  };
}
