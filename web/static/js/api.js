// The Connect JSON client: every call is a same-origin POST, the way curl
// or any other client would make it.

const config = JSON.parse(document.querySelector('meta[name="junction-config"]')?.content || "{}");

export class APIError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
  // field is the request field a broker error names ("station.partitions: ...").
  get field() {
    const m = /^([a-z_][a-z_.\[\]0-9]*): /.exec(this.message);
    return m ? m[1] : "";
  }
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return "";
}

// camel turns the API's snake_case keys (its JSON uses the proto names)
// into the lowerCamelCase the pages read; the API has no map fields, so
// every key is a field name.
export function camel(v) {
  if (Array.isArray(v)) return v.map(camel);
  if (v === null || typeof v !== "object") return v;
  const out = {};
  for (const [k, x] of Object.entries(v)) out[k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase())] = camel(x);
  return out;
}

let loginWaiters = null;
const onUnauthenticated = [];

// whenUnauthenticated registers fn(resolve) to show the login form; it is
// called when the API requires a session.
export function whenUnauthenticated(fn) { onUnauthenticated.push(fn); }

async function login(username, password) {
  const resp = await fetch(config.loginPath || "/ui/login", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Junction-CSRF": cookie("junction-csrf") },
    body: JSON.stringify({ username, password }),
  });
  if (!resp.ok) throw new APIError("unauthenticated", (await resp.text()) || "login failed", resp.status);
}

// call invokes service/method (such as "StationService/ListStations") with
// a JSON request body and returns the decoded response.
export async function call(service, method, body = {}, { signal } = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = { "Content-Type": "application/json", "Connect-Protocol-Version": "1" };
    const csrf = cookie("junction-csrf");
    if (csrf) headers["X-Junction-CSRF"] = csrf;
    const resp = await fetch(`/junction.v1.${service}/${method}`, {
      method: "POST", credentials: "same-origin", headers, body: JSON.stringify(body), signal,
    });
    const text = await resp.text();
    let data = {};
    try { data = text ? JSON.parse(text) : {}; } catch { data = { code: "unknown", message: text }; }
    if (resp.ok) return camel(data);
    const err = new APIError(data.code || "unknown", data.message || resp.statusText, resp.status);
    if (err.code === "unauthenticated" && attempt === 0 && onUnauthenticated.length) {
      if (!loginWaiters) {
        loginWaiters = new Promise((resolve) => onUnauthenticated[0](async (u, p) => { await login(u, p); resolve(); }));
        loginWaiters.finally(() => { loginWaiters = null; });
      }
      await loginWaiters;
      continue;
    }
    throw err;
  }
}

// Base64 of UTF-8 text, and back, for bytes fields.
export function toB64(text) {
  const bytes = new TextEncoder().encode(text);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function fromB64(b64) {
  const s = atob(b64 || "");
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export const api = {
  listStations: () => call("StationService", "ListStations"),
  getStation: (name) => call("StationService", "GetStation", { name }),
  createStation: (station) => call("StationService", "CreateStation", { station }),
  updateStation: (station, paths) => call("StationService", "UpdateStation", { station, updateMask: paths.join(",") }),
  deleteStation: (name, force) => call("StationService", "DeleteStation", { name, force }),
  rates: (stations = []) => call("StationService", "GetStationRates", { stations }),
  peek: (req) => call("MessageService", "PeekMessages", req),
  listGroups: (station) => call("GroupService", "ListGroups", { station }),
  listConnectors: () => call("ConnectorService", "ListConnectors"),
  validateConnector: (fileName, yaml) => call("ConnectorService", "ValidateConnector", { fileName, definition: toB64(yaml) }),
  applyConnector: (fileName, yaml) => call("ConnectorService", "ApplyConnector", { fileName, definition: toB64(yaml) }),
  connectorAction: (action, name) => call("ConnectorService", `${action}Connector`, { name }),
  getSchema: (name, version) => call("SchemaService", "GetSchema", { name, version }),
  listDeadLetters: (station, limit = 200) => call("DeadLetterService", "ListDeadLetters", { station, limit }),
  replayDeadLetters: (req) => call("DeadLetterService", "ReplayDeadLetters", req),
  purgeDeadLetters: (station) => call("DeadLetterService", "PurgeDeadLetters", { station }),
  listPlugins: () => call("ConnectorService", "ListPlugins"),
  searchHub: (term) => call("HubService", "SearchHub", { term }),
  hubConnector: (name) => call("HubService", "GetHubConnector", { name }),
  installPlugin: (name, version) => call("HubService", "InstallPlugin", { name, version }),
  upgradePlugin: (name) => call("HubService", "UpgradePlugin", { name }),
  removePlugin: (name, version) => call("HubService", "RemovePlugin", { name, version }),
};
