// Shared helpers of the pages: calls to the JSON API of this origin, the token kept in
// sessionStorage, and DOM building that only ever inserts text (textContent; never markup from strings).

const TOKEN_KEY = "npsc.token";

/** The API token of this browser tab, or "" (kept in sessionStorage: gone when the tab closes). */
export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

export function setToken(value) {
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage refused (private mode): the token lives only in the input then.
  }
  showWho();
}

/** An error answered by the API: status, stable code, message and located issues. */
export class ApiFailure extends Error {
  constructor(status, body) {
    const message = (body && body.message) || `HTTP ${status}`;
    super(message);
    this.status = status;
    this.code = (body && body.code) || "http";
    this.details = (body && Array.isArray(body.details) && body.details) || [];
  }
}

/**
 * Calls the API. `options.body` may be a FormData (sent as multipart) or an object (sent as
 * JSON). Returns the parsed JSON; throws ApiFailure for any status >= 400.
 */
export async function api(path, options = {}) {
  const headers = { Accept: "application/json" };
  const token = options.token !== undefined ? options.token : getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (options.body instanceof FormData) {
    body = options.body;
  } else if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let response;
  try {
    response = await fetch(path, { method: options.method || "GET", headers, body });
  } catch (e) {
    throw new ApiFailure(0, { code: "network", message: `无法连接服务 cannot reach the service: ${e.message}` });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text };
    }
  }
  if (!response.ok) throw new ApiFailure(response.status, data);
  return data;
}

/** Percent-encodes one path segment. */
export const seg = (s) => encodeURIComponent(String(s));

/**
 * Builds an element. `attrs`: `class`, `text`, `on<event>` (a function) and any attribute
 * (set with setAttribute, never as HTML). Children: nodes, strings (text nodes), arrays, or
 * null/undefined/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Builds an SVG element, as h(). */
export function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") element.textContent = String(value);
    else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else if (child instanceof Node) element.appendChild(child);
    else element.appendChild(document.createTextNode(String(child)));
  }
}

/** A value as the API rendered it; null or absent shown as an em dash. */
export const show = (value) => (value === null || value === undefined || value === "" ? "—" : String(value));

/** The main element, emptied, with a heading (Chinese first, English second). */
export function page(zh, en, subtitle) {
  const main = document.getElementById("main");
  main.replaceChildren();
  document.title = `${zh} ${en} · npsc`;
  main.appendChild(h("h1", {}, `${zh} `, h("span", { class: "en", text: en }), subtitle ? h("small", { text: subtitle }) : null));
  return main;
}

const STATUS = {
  draft: "草稿 Draft",
  published: "已发布 Published",
  retired: "已废止 Retired",
};

/** An edition status as a badge. */
export function statusBadge(status) {
  return h("span", { class: `badge badge-${status}`, "data-status": status, text: STATUS[status] || status });
}

/** A table with a header row of [zh, en] labels. Returns {table, tbody}. */
export function table(columns, attrs = {}) {
  const tbody = h("tbody");
  const head = h(
    "tr",
    {},
    columns.map(([zh, en, cls]) => h("th", { class: cls, scope: "col" }, zh, h("br"), h("span", { class: "en", text: en }))),
  );
  const t = h("table", attrs, h("thead", {}, head), tbody);
  return { table: h("div", { class: "table-wrap" }, t), tbody };
}

const HINTS = {
  401: "需要令牌：请在“发布 Publish”页输入令牌。A token is needed: enter one on the Publish page.",
  403: "令牌权限不足。The token's role is not enough for this.",
  404: "未找到。Not found.",
};

/** Renders an API failure: status, message, a hint, and every located issue. */
export function errorBox(error) {
  const status = error instanceof ApiFailure ? error.status : 0;
  const details = error instanceof ApiFailure ? error.details : [];
  const box = h(
    "div",
    { class: "error", role: "alert", "data-status": status, "data-code": error.code || "error" },
    h("p", { class: "error-title" }, status ? `错误 Error ${status} · ${error.code}` : "错误 Error"),
    h("p", { class: "error-message", text: error.message }),
    HINTS[status] ? h("p", { class: "hint", text: HINTS[status] }) : null,
    status === 401 ? h("p", {}, h("a", { class: "token-link", href: "/publish#token-form", text: "输入令牌 Enter a token" })) : null,
  );
  if (details.length) box.appendChild(issuesTable(details));
  return box;
}

/** The located issues of an upload, one row each. */
export function issuesTable(details) {
  const { table: wrap, tbody } = table(
    [
      ["文件", "File"],
      ["工作表", "Sheet"],
      ["行", "Row", "num"],
      ["列", "Column"],
      ["值", "Value"],
      ["代码", "Code"],
      ["问题", "Issue"],
      ["提示", "Hint"],
    ],
    { class: "issues" },
  );
  for (const d of details) {
    tbody.appendChild(
      h(
        "tr",
        { class: "issue", "data-code": d.code },
        h("td", { text: show(d.file) }),
        h("td", { text: show(d.sheet) }),
        h("td", { class: "num", "data-field": "row", text: show(d.row) }),
        h("td", { "data-field": "column", text: show(d.column) }),
        h("td", { "data-field": "value", text: show(d.value) }),
        h("td", { "data-field": "code", text: d.code }),
        h("td", { "data-field": "message", text: d.message }),
        h("td", { text: show(d.hint) }),
      ),
    );
  }
  return h("div", {}, h("p", { class: "issue-count", text: `共 ${details.length} 个问题 ${details.length} issue(s)` }), wrap);
}

/** Shows whether this tab holds a token. */
export function showWho() {
  const who = document.getElementById("who");
  if (!who) return;
  who.textContent = getToken() ? "已输入令牌 Token set" : "匿名 Anonymous";
}

/** Runs a page's render function, showing any failure in the main element. */
export function start(render) {
  const go = async () => {
    showWho();
    try {
      await render();
    } catch (e) {
      const main = document.getElementById("main");
      main.querySelector(".loading")?.remove();
      main.appendChild(errorBox(e));
    } finally {
      document.body.setAttribute("data-ready", "true");
    }
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", go);
  else go();
}

/** Path segments of the current page, decoded. */
export function pathSegments() {
  return location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
}

/** A run's edition: a link to its coefficients when the run used a stored edition. */
export function editionLink(edition) {
  if (edition.edition === null || edition.edition === undefined) return h("span", { text: edition.name });
  return h("a", { href: `/sets/${seg(edition.set_id)}/editions/${edition.edition}`, text: edition.name });
}
