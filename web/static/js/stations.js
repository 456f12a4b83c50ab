import { api, fromB64 } from "./api.js";
import { h, replace, count, rate, bytes, num, duration, time, parseSize, parseDuration, validName, renderBytes, toast } from "./fmt.js";
import { sparkline } from "./chart.js";

const storageName = (s) => (s || "STORAGE_TYPE_DISK").replace("STORAGE_TYPE_", "").toLowerCase();
const fsyncName = (s) => (s || "FSYNC_POLICY_ALWAYS").replace("FSYNC_POLICY_", "").toLowerCase();

function retention(r) {
  const parts = [];
  if (r?.maxAge) parts.push(duration(r.maxAge));
  if (num(r?.maxBytes)) parts.push(bytes(r.maxBytes));
  if (num(r?.maxMessages)) parts.push(`${count(r.maxMessages)} msgs`);
  if (r?.ack) parts.push("on ack");
  return parts.join(", ") || "forever";
}

// field is a labelled input with a place for its error.
function field(name, label, input, hint) {
  input.id = `f-${name}`;
  input.name = name;
  const err = h("span", { class: "field-error", id: `e-${name}`, "aria-live": "polite" });
  input.setAttribute("aria-describedby", `e-${name}`);
  return h("label", { for: input.id }, label, input, hint ? h("span", { class: "muted" }, hint) : null, err);
}

// stationForm is the create (station undefined) or edit dialog. The
// checks are the CLI's; the broker checks again and its field errors are
// shown at the field.
function stationForm(station, onDone) {
  const edit = !!station;
  const v = (x) => (x === undefined || x === null ? "" : String(x));
  const inputs = {
    name: h("input", { required: true, value: v(station?.name), disabled: edit, autocomplete: "off", spellcheck: "false" }),
    partitions: h("input", { type: "number", min: 1, max: 65536, value: v(station?.partitions || 1), disabled: edit }),
    storage: h("select", { disabled: edit }, h("option", { value: "disk" }, "disk"), h("option", { value: "memory" }, "memory")),
    fsync: h("select", { disabled: edit }, ["always", "interval", "never"].map((f) => h("option", { value: f }, f))),
    retentionAge: h("input", { value: duration(station?.retention?.maxAge), placeholder: "e.g. 24h, 7d" }),
    retentionBytes: h("input", { value: num(station?.retention?.maxBytes) ? bytes(station.retention.maxBytes).replace(/\.\d+/, "") : "", placeholder: "e.g. 10GiB" }),
    retentionMessages: h("input", { type: "number", min: 0, value: num(station?.retention?.maxMessages) || "" }),
    retentionAck: h("input", { type: "checkbox", checked: !!station?.retention?.ack }),
    dedupWindow: h("input", { value: duration(station?.dedupWindow), placeholder: "e.g. 2m" }),
    dlq: h("input", { value: v(station?.deadLetterStation), placeholder: "none", autocomplete: "off" }),
    maxDeliveries: h("input", { type: "number", min: 0, value: station?.maxDeliveries || "" , placeholder: "broker default" }),
    maxMessageBytes: h("input", { value: station?.maxMessageBytes ? String(station.maxMessageBytes) : "", placeholder: "broker default" }),
  };
  if (edit) {
    inputs.storage.value = storageName(station.storage);
    inputs.fsync.value = fsyncName(station.fsync);
    // An exact byte count avoids rounding the stored limit.
    if (num(station.retention?.maxBytes)) inputs.retentionBytes.value = String(station.retention.maxBytes);
  }
  const formErr = h("p", { class: "field-error", role: "alert" });
  const errFor = (name) => (name in inputs ? name : null);
  const setErr = (name, msg) => {
    const k = errFor(name);
    if (!k) { formErr.textContent = msg; return; }
    inputs[k].setAttribute("aria-invalid", "true");
    document.getElementById(`e-${k}`).textContent = msg;
  };
  const clearErrs = () => {
    formErr.textContent = "";
    for (const [k, el] of Object.entries(inputs)) {
      el.removeAttribute("aria-invalid");
      const e = document.getElementById(`e-${k}`);
      if (e) e.textContent = "";
    }
  };
  const brokerField = { "station.name": "name", "station.partitions": "partitions", "station.retention.max_age": "retentionAge",
    "station.retention.max_bytes": "retentionBytes", "station.retention.max_messages": "retentionMessages",
    "station.dedup_window": "dedupWindow", "station.dead_letter_station": "dlq", "station.max_deliveries": "maxDeliveries",
    "station.max_message_bytes": "maxMessageBytes", "station.storage": "storage", "station.fsync": "fsync" };

  function collect() {
    const errs = [];
    const s = { name: inputs.name.value.trim(), retention: {} };
    const check = (k, fn) => { try { fn(); } catch (e) { errs.push([k, e.message]); } };
    if (!edit) {
      if (!s.name) errs.push(["name", "required"]);
      else if (!validName(s.name)) errs.push(["name", `"${s.name}" is not a valid name: use 1 to 128 of a-z A-Z 0-9 . _ - (and not . or ..)`]);
      const p = Number(inputs.partitions.value);
      if (!Number.isInteger(p) || p < 1 || p > 65536) errs.push(["partitions", `must be between 1 and 65536, got ${inputs.partitions.value}`]);
      s.partitions = p;
      s.storage = `STORAGE_TYPE_${inputs.storage.value.toUpperCase()}`;
      s.fsync = `FSYNC_POLICY_${inputs.fsync.value.toUpperCase()}`;
    }
    check("retentionAge", () => { if (inputs.retentionAge.value.trim()) s.retention.maxAge = `${parseDuration(inputs.retentionAge.value.trim())}s`; });
    check("retentionBytes", () => { if (inputs.retentionBytes.value.trim()) s.retention.maxBytes = String(parseSize(inputs.retentionBytes.value)); });
    check("retentionMessages", () => {
      const m = inputs.retentionMessages.value.trim();
      if (m && !/^[0-9]+$/.test(m)) throw new Error("must be a whole number");
      if (m) s.retention.maxMessages = m;
    });
    s.retention.ack = inputs.retentionAck.checked;
    check("dedupWindow", () => { if (inputs.dedupWindow.value.trim()) s.dedupWindow = `${parseDuration(inputs.dedupWindow.value.trim())}s`; });
    const dlq = inputs.dlq.value.trim();
    if (dlq && !validName(dlq)) errs.push(["dlq", `"${dlq}" is not a valid station name`]);
    if (dlq && dlq === s.name) errs.push(["dlq", "a station cannot be its own dead-letter station"]);
    s.deadLetterStation = dlq;
    check("maxDeliveries", () => {
      const m = inputs.maxDeliveries.value.trim();
      if (m && !/^[0-9]+$/.test(m)) throw new Error("must be a whole number");
      s.maxDeliveries = m ? Number(m) : 0;
    });
    check("maxMessageBytes", () => {
      const m = inputs.maxMessageBytes.value.trim();
      const n = m ? parseSize(m) : 0;
      if (m && (n <= 0 || n > 2 ** 32 - 1)) throw new Error(`must be between 1B and 4GiB, got ${m}`);
      s.maxMessageBytes = n;
    });
    return [s, errs];
  }

  const dlg = h("dialog", { "aria-labelledby": "station-form-title" });
  const form = h("form", { class: "grid", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    clearErrs();
    const [s, errs] = collect();
    if (errs.length) { for (const [k, m] of errs) setErr(k, m); inputs[errs[0][0]]?.focus(); return; }
    try {
      if (edit) {
        await api.updateStation(s, ["retention", "dedupWindow", "deadLetterStation", "maxDeliveries", "maxMessageBytes"]);
        toast(`Station ${s.name} updated`);
      } else {
        await api.createStation(s);
        toast(`Station ${s.name} created`);
      }
      dlg.close();
      onDone?.(s);
    } catch (e) {
      const f = brokerField[e.field];
      if (f) setErr(f, e.message.slice(e.field.length + 2)); else formErr.textContent = e.message;
    }
  } },
  h("h2", { id: "station-form-title", class: "form-actions" }, edit ? `Edit station ${station.name}` : "Create a station"),
  field("name", "Name", inputs.name), field("partitions", "Partitions", inputs.partitions),
  field("storage", "Storage", inputs.storage), field("fsync", "Fsync", inputs.fsync),
  field("retentionAge", "Retention: max age", inputs.retentionAge), field("retentionBytes", "Retention: max bytes per partition", inputs.retentionBytes),
  field("retentionMessages", "Retention: max messages per partition", inputs.retentionMessages),
  h("label", { class: "check" }, inputs.retentionAck, "Delete once every group acked"),
  field("dedupWindow", "Dedup window", inputs.dedupWindow), field("dlq", "Dead-letter station", inputs.dlq),
  field("maxDeliveries", "Max deliveries", inputs.maxDeliveries), field("maxMessageBytes", "Max message size", inputs.maxMessageBytes),
  formErr,
  h("div", { class: "form-actions" }, h("button", { type: "submit" }, edit ? "Save" : "Create"),
    h("button", { type: "button", class: "ghost", onclick: () => dlg.close() }, "Cancel")));
  dlg.append(form);
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  (edit ? inputs.retentionAge : inputs.name).focus();
}

function confirmDelete(name, onDone) {
  const err = h("p", { class: "field-error", role: "alert" });
  const force = h("input", { type: "checkbox", id: "f-force" });
  const dlg = h("dialog", { "aria-labelledby": "del-title" },
    h("form", { onsubmit: async (ev) => {
      ev.preventDefault();
      try { await api.deleteStation(name, force.checked); toast(`Station ${name} deleted`); dlg.close(); onDone?.(); }
      catch (e) { err.textContent = e.message; }
    } },
    h("h2", { id: "del-title" }, `Delete station ${name}?`),
    h("p", {}, "Its messages and consumer groups are deleted with it. This cannot be undone."),
    h("label", { class: "check" }, force, "Even if other stations use it as their dead-letter station"), err,
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "danger" }, "Delete"),
      h("button", { type: "button", class: "ghost", onclick: () => dlg.close() }, "Cancel"))));
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
}

export function stations() {
  let body;
  return {
    title: "Stations",
    render(main) {
      body = h("tbody");
      main.append(
        h("h1", {}, "Stations", h("button", { type: "button", id: "create-station", onclick: () => stationForm(undefined, () => this.refresh()) }, "Create station")),
        h("div", { class: "tablewrap" }, h("table", { "aria-label": "Stations" },
          h("thead", {}, h("tr", {}, ["Name", "Partitions", "Storage", "Retention", "Messages", "Bytes", "In", "Out", "Rate", "Schema", "DLQ", ""].map((c, i) =>
            h("th", { scope: "col", class: [4, 5, 6, 7].includes(i) ? "num" : i === 3 || i === 9 ? "hide-sm" : undefined }, c)))),
          body)));
    },
    async refresh() {
      const [st, rates] = await Promise.all([api.listStations(), api.rates()]);
      const byName = new Map((rates.stations || []).map((r) => [r.station, r]));
      const list = st.stations || [];
      if (!list.length) {
        replace(body, h("tr", {}, h("td", { colspan: 12, class: "empty" }, "No stations yet. Create one, or produce with the CLI: junction produce STATION")));
        return;
      }
      replace(body, list.map((s, i) => {
        const stats = st.stats?.[i] || {};
        const r = byName.get(s.name) || {};
        const hist = r.history || [];
        return h("tr", { "data-station": s.name },
          h("th", { scope: "row" }, h("a", { href: `#/stations/${encodeURIComponent(s.name)}` }, s.name)),
          h("td", {}, s.partitions || 1), h("td", {}, storageName(s.storage)),
          h("td", { class: "hide-sm" }, retention(s.retention)),
          h("td", { class: "num", "data-col": "messages" }, count(stats.messages)), h("td", { class: "num" }, bytes(stats.bytes)),
          h("td", { class: "num", "data-col": "in" }, rate(r.current?.messagesIn)), h("td", { class: "num", "data-col": "out" }, rate(r.current?.messagesOut)),
          h("td", {}, sparkline(hist.map((p) => [Date.parse(p.time), num(p.messagesIn)]), hist.map((p) => [Date.parse(p.time), num(p.messagesOut)]), `Rate history of ${s.name}`)),
          h("td", { class: "hide-sm" }, s.schema?.name ? `${s.schema.name}${s.schema.version ? "@" + s.schema.version : ""}` : h("span", { class: "muted" }, "none")),
          h("td", {}, s.deadLetterStation ? h("a", { href: `#/stations/${encodeURIComponent(s.deadLetterStation)}` }, s.deadLetterStation) : h("span", { class: "muted" }, "none")),
          h("td", {}, h("div", { class: "actions" },
            h("button", { type: "button", class: "ghost", "aria-label": `Edit ${s.name}`, onclick: () => stationForm(s, () => this.refresh()) }, "Edit"),
            h("button", { type: "button", class: "danger", "aria-label": `Delete ${s.name}`, onclick: () => confirmDelete(s.name, () => this.refresh()) }, "Delete"))));
      }));
    },
  };
}

// bytesCell shows a key or value on one line, the whole of it (pretty
// JSON, text or hex) when opened.
function bytesCell(b64) {
  const r = renderBytes(fromB64(b64));
  if (r.kind === "empty") return h("span", { class: "muted" }, "empty");
  const line = r.kind === "json" ? JSON.stringify(JSON.parse(r.text)) : r.text.replace(/\s+/g, " ");
  const short = line.length > 90 ? `${line.slice(0, 90)}…` : line;
  if (short === r.text) return h("code", { class: `msg-value kind-${r.kind}`, title: r.kind }, r.text);
  return h("details", { class: `msg-value kind-${r.kind}` }, h("summary", { class: "mono", title: r.kind }, short), h("pre", {}, r.text));
}

export function stationDetail([name]) {
  let info, parts, groups, msgs, schema, station;
  const browser = { partition: 0, from: "", mode: "offset", next: null };
  async function peek(reset) {
    const req = { station: name, partition: browser.partition, maxMessages: 20 };
    if (!reset && browser.next !== null) req.offset = String(browser.next);
    else if (browser.mode === "time" && browser.from) req.time = new Date(browser.from).toISOString();
    else if (browser.from !== "") req.offset = String(browser.from);
    const resp = await api.peek(req);
    browser.next = num(resp.nextOffset);
    const rows = (resp.messages || []).map((m) => h("tr", {},
      h("td", { class: "num" }, m.offset || "0"), h("td", {}, time(m.timestamp)),
      h("td", {}, bytesCell(m.key)),
      h("td", { class: "wrap" }, (m.headers || []).map((hd) => h("div", { class: "mono" }, `${hd.key}: ${new TextDecoder().decode(fromB64(hd.value))}`))),
      h("td", { class: "wrap" }, bytesCell(m.value))));
    replace(msgs.querySelector("tbody"), rows.length ? rows : h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No messages here.")));
    msgs.querySelector(".range").textContent = `Partition ${browser.partition}: offsets ${resp.startOffset || 0} to ${num(resp.endOffset) - 1 < 0 ? "–" : num(resp.endOffset) - 1}; showing ${rows.length}.`;
    msgs.querySelector("#peek-more").disabled = browser.next >= num(resp.endOffset);
  }
  return {
    title: `Station ${name}`,
    render(main) {
      info = h("div", { class: "cards" });
      parts = h("tbody");
      groups = h("tbody");
      schema = h("div", { class: "panel muted" }, "No schema attached.");
      const partSel = h("select", { id: "peek-partition", onchange: () => { browser.partition = Number(partSel.value); } });
      const mode = h("select", { id: "peek-mode", onchange: () => { browser.mode = mode.value; from.type = mode.value === "time" ? "datetime-local" : "number"; from.value = ""; } },
        h("option", { value: "offset" }, "offset"), h("option", { value: "time" }, "time"));
      const from = h("input", { id: "peek-from", type: "number", min: 0, placeholder: "first" });
      msgs = h("section", { "aria-labelledby": "msgs-title" },
        h("h2", { id: "msgs-title" }, "Messages"),
        h("form", { class: "toolbar", onsubmit: async (ev) => {
          ev.preventDefault();
          browser.from = from.value; browser.next = null;
          try { await peek(true); } catch (e) { toast(e.message, { error: true }); }
        } },
        h("label", { for: "peek-partition" }, "Partition", partSel),
        h("label", { for: "peek-mode" }, "From", mode),
        h("label", { for: "peek-from" }, "Start at", from),
        h("button", { type: "submit", id: "peek-go" }, "Show"),
        h("button", { type: "button", class: "ghost", id: "peek-more", onclick: async () => {
          try { await peek(false); } catch (e) { toast(e.message, { error: true }); }
        } }, "Next page")),
        h("p", { class: "range muted" }),
        h("p", { class: "muted" }, "Peeking reads without a consumer group: nothing is delivered or acknowledged."),
        h("div", { class: "tablewrap" }, h("table", { "aria-label": "Messages" },
          h("thead", {}, h("tr", {}, ["Offset", "Time", "Key", "Headers", "Value"].map((c, i) => h("th", { scope: "col", class: i === 0 ? "num" : undefined }, c)))), h("tbody"))));
      main.append(
        h("p", {}, h("a", { href: "#/stations" }, "← Stations")),
        h("h1", {}, `Station ${name}`, h("span", { class: "actions" },
          h("button", { type: "button", class: "ghost", onclick: () => station && stationForm(station, () => this.refresh()) }, "Edit"),
          h("button", { type: "button", class: "danger", onclick: () => confirmDelete(name, () => { location.hash = "#/stations"; }) }, "Delete"))),
        info,
        h("h2", {}, "Partitions"),
        h("div", { class: "tablewrap" }, h("table", { "aria-label": "Partitions" },
          h("thead", {}, h("tr", {}, ["Partition", "First offset", "Last offset", "Messages", "Bytes", "Segments", "Damaged"].map((c, i) => h("th", { scope: "col", class: i > 0 && i < 6 ? "num" : undefined }, c)))), parts)),
        msgs,
        h("h2", {}, "Consumer groups"),
        h("div", { class: "tablewrap" }, h("table", { "aria-label": "Consumer groups" },
          h("thead", {}, h("tr", {}, ["Group", "Lag", "Pending acks", "Redelivered", "Dead-lettered", "Per partition (committed / next, lag, pending)", "Ack deadline", "Max deliveries"].map((c, i) => h("th", { scope: "col", class: i > 0 && i < 5 ? "num" : undefined }, c)))), groups)),
        h("h2", {}, "Schema"), schema);
      this.partSel = partSel;
    },
    async refresh() {
      const [st, gs, rates] = await Promise.all([api.getStation(name), api.listGroups(name), api.rates([name])]);
      station = st.station;
      const stats = st.stats || {};
      const r = rates.stations?.[0]?.current || {};
      replace(info,
        [["Messages", count(stats.messages)], ["Bytes", bytes(stats.bytes)], ["In", rate(r.messagesIn)], ["Out", rate(r.messagesOut)],
          ["Partitions", station.partitions || 1], ["Storage", storageName(station.storage)], ["Fsync", fsyncName(station.fsync)],
          ["Retention", retention(station.retention)], ["Dead-letter station", station.deadLetterStation || "none"]].map(([l, v]) =>
          h("div", { class: "card" }, h("div", { class: "label" }, l), h("div", { class: "value", "data-metric": l.toLowerCase() }, String(v)))));
      if (stats.deadLetterError) info.append(h("p", { class: "error-text", role: "alert" }, `Dead letters failing: ${stats.deadLetterError}`));
      const ps = stats.partitions || [];
      replace(parts, ps.map((p) => h("tr", {},
        h("td", {}, p.partition || 0), h("td", { class: "num" }, p.startOffset || "0"),
        h("td", { class: "num" }, num(p.nextOffset) > num(p.startOffset) ? num(p.nextOffset) - 1 : "–"),
        h("td", { class: "num" }, count(num(p.nextOffset) - num(p.startOffset))), h("td", { class: "num" }, bytes(p.bytes)),
        h("td", { class: "num" }, p.segments || 0),
        h("td", { class: (p.damaged || []).length ? "error-text" : "muted" }, (p.damaged || []).map((d) => `${d.fromOffset || 0}–${d.toOffset}: ${d.reason}`).join("; ") || "none"))));
      if (this.partSel.options.length !== ps.length) {
        replace(this.partSel, ps.map((p) => h("option", { value: p.partition || 0 }, String(p.partition || 0))));
        await peek(true);
      }
      const list = gs.groups || [];
      replace(groups, list.length ? list.map((g) => h("tr", { "data-group": g.name },
        h("th", { scope: "row" }, g.name), h("td", { class: "num", "data-col": "lag" }, count(g.lag)),
        h("td", { class: "num", "data-col": "pending" }, count(g.pending)), h("td", { class: "num", "data-col": "redelivered" }, count(g.redelivered)),
        h("td", { class: "num" }, count(g.deadLettered)),
        h("td", { class: "wrap mono" }, (g.partitions || []).map((p) => h("div", {}, `p${p.partition || 0}: ${p.committedOffset || 0} / ${p.nextOffset || 0}, lag ${p.lag || 0}, pending ${p.pending || 0}`))),
        h("td", {}, duration(g.config?.ackDeadline)), h("td", {}, !g.config?.maxDeliveries ? "station's" : g.config.maxDeliveries >= 4294967295 ? "unlimited" : g.config.maxDeliveries)))
        : h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No consumer groups.")));
      const sk = station.schema ? `${station.schema.name}@${station.schema.version || 0}` : "";
      if (sk !== this.schemaKey) {
        this.schemaKey = sk;
        if (!station.schema) replace(schema, "No schema attached.");
        else {
          const r = await api.getSchema(station.schema.name, station.schema.version || 0);
          const v = r.version || {};
          const def = v.definition || {};
          replace(schema, h("p", {}, h("strong", {}, station.schema.name), ` version ${v.version || "?"}${station.schema.version ? "" : " (follows the latest)"} · `,
            (def.type || "").replace("SCHEMA_TYPE_", "").toLowerCase(), ` · invalid messages are ${(station.schema.onInvalid || "ON_INVALID_REJECT") === "ON_INVALID_DEAD_LETTER" ? "dead-lettered" : "rejected"}`,
            def.message ? ` · message ${def.message}` : ""),
          (def.files || []).map((f) => h("details", {}, h("summary", {}, f.name || "definition"), h("pre", { "data-field": "schema" }, renderBytes(fromB64(f.content)).text))));
          schema.classList.remove("muted");
        }
      }
    },
  };
}
