// 系数 Coefficients of one edition, with filters and pagination. The filters live in the page's
// query string (so a filtered view can be linked) and are passed to the API unchanged.
import { api, h, page, pathSegments, seg, show, start, statusBadge, table } from "./common.js";

const FILTERS = [
  ["industry", "行业", "Industry", "4430 / 44 / D"],
  ["product", "产品", "Product", "蒸汽"],
  ["raw_material", "原料", "Raw material", "煤炭"],
  ["process", "工艺", "Process", "层燃炉"],
  ["pollutant", "污染物", "Pollutant", "SO2 / 二氧化硫"],
  ["treatment", "末端治理技术", "Treatment", "直排"],
];

const COLUMNS = [
  ["row", "表:行", "Table:row", "source"],
  ["industry_code", "行业", "Industry"],
  ["product", "产品", "Product"],
  ["raw_material", "原料", "Raw material"],
  ["process", "工艺", "Process"],
  ["scale", "规模", "Scale"],
  ["pollutant", "污染物", "Pollutant"],
  ["unit", "单位", "Unit"],
  ["generation_coefficient", "产污系数", "Generation", "num"],
  ["treatment", "末端治理技术", "Treatment"],
  ["removal_efficiency", "去除效率 %", "Removal %", "num"],
  ["emission_coefficient", "排污系数", "Emission", "num"],
];

const PER_PAGE = [25, 50, 100, 500, 1000];

start(async () => {
  const [, set, , edition] = pathSegments();
  const query = new URLSearchParams(location.search);
  const params = new URLSearchParams();
  for (const [name] of FILTERS) {
    const value = (query.get(name) || "").trim();
    if (value) params.set(name, value);
  }
  const perPage = Number(query.get("per_page")) || 100;
  const pageNo = Math.max(1, Number(query.get("page")) || 1);
  params.set("per_page", String(perPage));
  params.set("page", String(pageNo));
  const base = `/api/v1/sets/${seg(set)}/editions/${seg(edition)}`;

  // The form is drawn first so that a filter the API refuses can be corrected.
  const main = page("系数", "Coefficients", `${set}@${edition}`);
  const form = filterForm(query, perPage);
  const result = h("div", { id: "result" });
  main.append(form, result);
  const data = await api(`${base}/coefficients?${params}`);
  const e = data.edition;
  document.title = `${e.name} 系数 Coefficients · npsc`;
  main.querySelector("h1 small").textContent = e.name;
  main.insertBefore(editionCard(e), form);

  const pages = Math.max(1, Math.ceil(data.total / data.per_page));
  const csv = new URLSearchParams(params);
  csv.delete("page");
  csv.delete("per_page");
  csv.set("format", "csv");
  result.appendChild(
    h(
      "div",
      { class: "summary" },
      h("span", { id: "total", "data-total": data.total, text: `共 ${data.total} 行 ${data.total} rows` }),
      h("span", { id: "page-of", text: `第 ${data.page} / ${pages} 页 Page ${data.page} of ${pages}` }),
      h("a", { href: `${base}/coefficients?${csv}`, download: `${e.set_id}-${e.edition}.csv`, text: "下载 CSV Download" }),
    ),
  );
  const { table: wrap, tbody } = table(
    COLUMNS.map(([, zh, en, cls]) => [zh, en, cls]),
    { class: "coefficients" },
  );
  for (const row of data.rows) {
    const tr = h("tr", { "data-row": `${row.table}:${row.row}` });
    for (const [field, , , cls] of COLUMNS) {
      let text = show(row[field]);
      if (field === "row") text = `${row.table}:${row.row}`;
      const title = field === "pollutant" ? row.pollutant_code : field === "row" ? show(row.source) : undefined;
      tr.appendChild(h("td", { class: cls, "data-field": field, title, text }));
    }
    tbody.appendChild(tr);
  }
  if (!data.rows.length) result.appendChild(h("p", { class: "empty", text: "没有符合条件的系数。No coefficient matches." }));
  else result.appendChild(wrap);
  result.appendChild(pager(query, data.page, pages));
});

function filterForm(query, perPage) {
  const form = h("form", { class: "filters", id: "filters", method: "get" });
  for (const [name, zh, en, placeholder] of FILTERS) {
    form.appendChild(
      h(
        "label",
        {},
        h("span", {}, `${zh} `, h("span", { class: "en", text: en })),
        h("input", { name, id: `f-${name}`, type: "search", placeholder, value: query.get(name) || "" }),
      ),
    );
  }
  const select = h("select", { name: "per_page", id: "f-per_page" });
  for (const n of PER_PAGE) select.appendChild(h("option", { value: n, selected: n === perPage, text: String(n) }));
  form.appendChild(h("label", {}, h("span", {}, "每页 ", h("span", { class: "en", text: "Per page" })), select));
  form.appendChild(
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", id: "apply", text: "筛选 Filter" }),
      h("a", { class: "button secondary", href: location.pathname, text: "清除 Clear" }),
    ),
  );
  // Empty fields are left out: the API treats an empty filter as one that matches nothing.
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [name] of FILTERS) {
      const value = form.elements[name].value.trim();
      if (value) next.set(name, value);
    }
    next.set("per_page", form.elements.per_page.value);
    location.assign(`${location.pathname}?${next}`);
  });
  return form;
}

function editionCard(e) {
  return h(
    "section",
    { class: "card", id: "edition", "data-edition": e.name },
    h("p", {}, statusBadge(e.status), " ", h("strong", { text: e.title })),
    h(
      "dl",
      {},
      h("dt", { text: "生效日期 Effective from" }),
      h("dd", { text: show(e.effective_from) }),
      h("dt", { text: "行数 Rows" }),
      h("dd", { id: "row-count", text: String(e.row_count) }),
      h("dt", { text: "内容哈希 Content hash" }),
      h("dd", {}, h("code", { text: e.content_hash })),
      h("dt", { text: "发布 Published" }),
      h("dd", { text: e.published_at ? `${e.published_at} · ${show(e.published_by)}` : "—" }),
      h("dt", { text: "修订说明 Revision note" }),
      h("dd", { text: show(e.revision_note) }),
    ),
    h("details", {}, h("summary", { text: "来源 Provenance" }), h("p", { class: "pre", text: e.provenance })),
  );
}

function pager(query, current, pages) {
  const link = (n, label, rel) => {
    const q = new URLSearchParams(query);
    q.set("page", String(n));
    return h("a", { class: "button secondary", rel, href: `${location.pathname}?${q}`, text: label });
  };
  return h(
    "nav",
    { class: "pager", "aria-label": "分页 Pages" },
    current > 1 ? link(current - 1, "← 上一页 Previous", "prev") : null,
    current < pages ? link(current + 1, "下一页 Next →", "next") : null,
  );
}
