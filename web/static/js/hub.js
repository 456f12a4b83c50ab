import { api } from "./api.js";
import { h, replace, time, toast, confirmDialog } from "./fmt.js";

export function hub() {
  let results, detail, installed, term = "";
  const report = (what, r) => {
    const i = r.install;
    const msg = i.alreadyInstalled ? `${i.name}@${i.version} was already installed` : `${what} ${i.name}@${i.version} from ${i.catalog}: verified ${i.verification}`;
    toast(msg);
    for (const w of i.warnings || []) toast(w, { error: true });
  };
  async function showDetail(name) {
    const { connector: c } = await api.hubConnector(name);
    replace(detail, h("section", { class: "panel", "aria-labelledby": "hub-detail" },
      h("h2", { id: "hub-detail" }, `${c.name} — ${c.description || ""}`),
      h("p", {}, `Catalog ${c.catalog}; publisher key ${c.publisher} (${c.trust}); license ${c.license || "–"}`,
        /^https?:\/\//.test(c.homepage || "") ? [" · ", h("a", { href: c.homepage, rel: "noopener noreferrer", target: "_blank" }, "homepage")] : null),
      h("div", { class: "tablewrap" }, h("table", { "aria-label": `Versions of ${c.name}` },
        h("thead", {}, h("tr", {}, ["Version", "Released", "Min Junction", "Platforms", "Status", ""].map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, (c.versions || []).map((r) => h("tr", {},
          h("td", {}, r.version), h("td", {}, time(r.released)), h("td", {}, r.minJunction || ""),
          h("td", { class: "wrap" }, (r.platforms || []).join(" ")), h("td", { class: r.status === "ok" ? "ok" : "warn" }, r.status),
          h("td", {}, (c.installed || []).includes(r.version)
            ? h("button", { type: "button", class: "danger", onclick: () => remove(c.name, r.version) }, "Remove")
            : h("button", { type: "button", class: "ghost", disabled: r.status !== "ok" && !r.yanked, onclick: () => install(c.name, r.version) }, "Install")))))))));
  }
  async function install(name, version) {
    try { report("Installed", await api.installPlugin(name, version)); await refreshAll(name); }
    catch (e) { toast(`Install ${name}: ${e.message}`, { error: true }); }
  }
  async function upgrade(name) {
    try { report("Upgraded to", await api.upgradePlugin(name)); await refreshAll(name); }
    catch (e) { toast(`Upgrade ${name}: ${e.message}`, { error: true }); }
  }
  async function remove(name, version) {
    if (!(await confirmDialog(`Remove ${name}${version ? "@" + version : " (every version)"}?`, "Connectors using it fail at their next restart.", "Remove"))) return;
    try { const r = await api.removePlugin(name, version); toast(`Removed ${name}@${(r.removed || []).join(", ")}`); await refreshAll(name); }
    catch (e) { toast(`Remove ${name}: ${e.message}`, { error: true }); }
  }
  async function search() {
    try {
      const r = await api.searchHub(term);
      const list = r.connectors || [];
      replace(results,
        (r.warnings || []).map((w) => h("p", { class: "warn" }, w)),
        list.length ? h("div", { class: "tablewrap" }, h("table", { "aria-label": "Catalog connectors" },
          h("thead", {}, h("tr", {}, ["Name", "Latest", "Kinds", "Installed", "Catalog", "Description", ""].map((x) => h("th", { scope: "col" }, x)))),
          h("tbody", {}, list.map((c) => h("tr", { "data-plugin": c.name },
            h("th", { scope: "row" }, h("button", { type: "button", class: "ghost", onclick: () => showDetail(c.name).catch((e) => toast(e.message, { error: true })) }, c.name)),
            h("td", {}, c.latest || "–"), h("td", {}, (c.kinds || []).join(", ")), h("td", {}, (c.installed || []).join(", ") || "–"),
            h("td", {}, c.catalog), h("td", { class: "wrap" }, c.description || ""),
            h("td", {}, h("div", { class: "actions" },
              !(c.installed || []).length ? h("button", { type: "button", disabled: !c.latest, onclick: () => install(c.name, "") }, "Install")
                : [c.latest && !(c.installed || []).includes(c.latest) ? h("button", { type: "button", onclick: () => upgrade(c.name) }, `Upgrade to ${c.latest}`) : null,
                  h("button", { type: "button", class: "danger", onclick: () => remove(c.name, "") }, "Remove")])))))))
          : h("p", { class: "panel empty" }, term ? `Nothing in the catalogs matches "${term}".` : "The catalogs list no connectors."));
    } catch (e) {
      replace(results, h("p", { class: "panel" }, h("span", { class: "error-text" }, e.message),
        h("br"), h("span", { class: "muted" }, "Catalogs come from the broker's hub config (see junction hub --help).")));
    }
  }
  async function plugins() {
    const r = await api.listPlugins();
    replace(installed, (r.plugins || []).length ? h("ul", {}, r.plugins.map((p) => h("li", {}, `${p.name}@${p.version} (${(p.kinds || []).join(", ")})`)))
      : h("p", { class: "muted" }, "No plugins installed."));
  }
  async function refreshAll(name) {
    await Promise.all([search(), plugins(), name ? showDetail(name).catch(() => replace(detail)) : null]);
  }
  return {
    title: "Hub",
    async render(main) {
      results = h("div", { "aria-live": "polite" });
      detail = h("div");
      installed = h("div");
      const q = h("input", { id: "hub-term", type: "search", placeholder: "name or description" });
      main.append(h("h1", {}, "Hub"),
        h("form", { class: "toolbar", role: "search", onsubmit: (ev) => { ev.preventDefault(); term = q.value.trim(); search(); } },
          h("label", { for: "hub-term" }, "Search the catalogs", q), h("button", { type: "submit" }, "Search")),
        results, detail, h("h2", {}, "Installed plugins"), installed);
      await refreshAll();
    },
  };
}
