// The dashboard's shell: hash routing, the poll loop, theme, toasts and
// the login form. A page is {title, render(main, params), refresh()}; the
// loop calls refresh every POLL_MS while the page is visible and stops
// when it is hidden or closed.

import { h, replace } from "./fmt.js";

import { whenUnauthenticated } from "./api.js";
import { overview } from "./overview.js";
import { stations, stationDetail } from "./stations.js";
import { connectors } from "./connectors.js";
import { hub } from "./hub.js";
import { deadLetters } from "./deadletters.js";

const POLL_MS = 2000;

const routes = [
  [/^\/?$/, overview, "overview"],
  [/^\/stations\/?$/, stations, "stations"],
  [/^\/stations\/([^/]+)$/, stationDetail, "stations"],
  [/^\/connectors\/?$/, connectors, "connectors"],
  [/^\/hub\/?$/, hub, "hub"],
  [/^\/deadletters\/?$/, deadLetters, "deadletters"],
  [/^\/deadletters\/([^/]+)$/, deadLetters, "deadletters"],
];

let current = null;
let timer = 0;
let generation = 0;


function schedule() {
  clearTimeout(timer);
  timer = 0;
  if (document.visibilityState !== "visible" || !current?.refresh) return;
  timer = setTimeout(tick, POLL_MS);
}

async function tick() {
  const gen = generation;
  try {
    await current?.refresh();
  } catch (e) {
    if (gen === generation) showError(e);
  }
  if (gen === generation) schedule();
}

function showError(e) {
  const main = document.getElementById("main");
  let banner = main.querySelector(".load-error");
  if (!banner) {
    banner = h("p", { class: "load-error error-text", role: "alert" });
    main.prepend(banner);
  }
  banner.textContent = `Could not refresh: ${e.message}`;
}

async function route() {
  generation++;
  clearTimeout(timer);
  current?.leave?.();
  const raw = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  let page = null, params = [], nav = "";
  for (const [re, p, n] of routes) {
    const m = re.exec(raw);
    if (m) { page = p; params = m.slice(1); nav = n; break; }
  }
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  if (!page) {
    replace(main, h("h1", {}, "Not found"), h("p", {}, "No page here. ", h("a", { href: "#/" }, "Back to the overview")));
    current = null;
    return;
  }
  current = page(params);
  document.title = `${current.title} · ${document.querySelector("title").dataset.base}`;
  replace(main);
  const gen = generation;
  try {
    await current.render(main);
    if (gen === generation) await current.refresh?.();
  } catch (e) {
    if (gen === generation) showError(e);
  }
  if (gen === generation) schedule();
}

function setupTheme() {
  const root = document.documentElement;
  const saved = localStorage.getItem("junction-theme");
  if (saved) root.dataset.theme = saved;
  document.getElementById("theme").addEventListener("click", () => {
    const dark = root.dataset.theme ? root.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
    root.dataset.theme = dark ? "light" : "dark";
    localStorage.setItem("junction-theme", root.dataset.theme);
  });
}

function setupLogin() {
  whenUnauthenticated((submit) => {
    const err = h("p", { class: "field-error", role: "alert" });
    const user = h("input", { name: "username", autocomplete: "username", required: true });
    const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
    const dlg = h("dialog", { "aria-labelledby": "login-title" },
      h("form", { method: "dialog", class: "grid", onsubmit: async (ev) => {
        ev.preventDefault();
        try { await submit(user.value, pass.value); dlg.close(); dlg.remove(); document.dispatchEvent(new Event("junction-login")); } catch (e) { err.textContent = e.message; }
      } },
      h("h2", { id: "login-title" }, "Sign in"),
      h("label", {}, "User name", user), h("label", {}, "Password", pass), err,
      h("div", { class: "form-actions" }, h("button", { type: "submit" }, "Sign in"))));
    document.body.append(dlg);
    dlg.showModal();
  });
}

// The sign-out button shows while a dashboard session exists.
function setupLogout() {
  const btn = document.getElementById("logout");
  const update = () => { btn.hidden = !document.cookie.split(";").some((c) => c.trim().startsWith("junction-csrf=")); };
  btn.addEventListener("click", async () => {
    await fetch(logoutPath(), { method: "POST", credentials: "same-origin" });
    update();
    route(); // the page asks the API again, which now wants a login
  });
  update();
  addEventListener("hashchange", update);
  document.addEventListener("junction-login", update);
}

function logoutPath() {
  const cfg = JSON.parse(document.querySelector('meta[name="junction-config"]')?.content || "{}");
  return (cfg.loginPath || "/ui/login").replace(/login$/, "logout");
}

const title = document.querySelector("title");
title.dataset.base = title.textContent;
setupTheme();
setupLogin();
setupLogout();
addEventListener("hashchange", route);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") tick(); else { clearTimeout(timer); timer = 0; }
});
route();
