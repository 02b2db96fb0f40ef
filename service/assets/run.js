// 核算运行 Run: one stored run's provenance, its regional totals as a table, and a bar chart of
// one pollutant's totals by region (inline SVG). Numbers are the API's strings.
import { api, h, page, pathSegments, seg, show, start, table } from "./common.js";
import { barChart } from "./chart.js";

const COLUMNS = [
  ["year", "年份", "Year", "num"],
  ["region_code", "地区代码", "Region code"],
  ["region_name", "地区", "Region"],
  ["industry_code", "行业", "Industry"],
  ["pollutant", "污染物", "Pollutant"],
  ["unit", "单位", "Unit"],
  ["generated", "产生量", "Generated", "num"],
  ["emitted", "排放量", "Emitted", "num"],
  ["rows", "行数", "Rows", "num"],
];

const LABELS = {
  id: "编号 Run",
  started_at: "开始 Started",
  finished_at: "结束 Finished",
  elapsed_ms: "耗时 ms Elapsed ms",
  actor: "操作人 Actor",
  set_id: "系数集 Set",
  edition: "版本 Edition",
  content_hash: "内容哈希 Content hash",
  selector: "选择 Selector",
  rule: "规则 Rule",
  accounting_date: "核算日期 Accounting date",
  registry_hash: "名录哈希 Registry hash",
  activity_hash: "活动数据哈希 Activity hash",
  rows_read: "读取行 Rows read",
  rows_accounted: "已核算 Accounted",
  rows_excluded: "排除 Excluded",
  rows_unaccounted: "未核算 Unaccounted",
};

/** Scalar fields of an object, nested objects flattened one level. */
function scalars(object) {
  const out = [];
  for (const [key, value] of Object.entries(object || {})) {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) if (v === null || typeof v !== "object") out.push([k, v]);
    } else if (!Array.isArray(value)) out.push([key, value]);
  }
  return out;
}

start(async () => {
  const [, id] = pathSegments();
  const run = await api(`/api/v1/runs/${seg(id)}`);
  const totalsData = await api(`/api/v1/runs/${seg(id)}/totals`);
  const totals = Array.isArray(totalsData) ? totalsData : totalsData.totals || [];
  const main = page("核算运行", "Run", `#${id}`);

  main.appendChild(
    h(
      "section",
      { class: "card", id: "run" },
      h(
        "dl",
        {},
        scalars(run).map(([key, value]) => [
          h("dt", { text: LABELS[key] || key }),
          h("dd", { "data-field": key, text: show(value) }),
        ]),
      ),
    ),
  );

  main.appendChild(h("h2", {}, "地区排放图 ", h("span", { class: "en", text: "Totals by region" })));
  const chartBox = h("div", { class: "chart", id: "chart" });
  main.appendChild(chartControls(totals, chartBox));
  main.appendChild(chartBox);

  main.appendChild(h("h2", {}, "汇总 ", h("span", { class: "en", text: "Totals" })));
  const present = COLUMNS.filter(([field]) => totals.some((t) => field in t));
  const { table: wrap, tbody } = table(
    present.map(([, zh, en, cls]) => [zh, en, cls]),
    { class: "totals", id: "totals" },
  );
  for (const t of totals) {
    tbody.appendChild(
      h(
        "tr",
        {},
        present.map(([field, , , cls]) => h("td", { class: cls, "data-field": field, text: show(t[field]) })),
      ),
    );
  }
  main.appendChild(h("p", { class: "summary", id: "total-lines", text: `共 ${totals.length} 行 ${totals.length} lines` }));
  main.appendChild(wrap);
});

const distinct = (values) => [...new Set(values.map((v) => show(v)))];

/** Selects for the chart: pollutant, year, industry (when the totals have several), measure. */
function chartControls(totals, box) {
  const form = h("form", { class: "filters", id: "chart-controls" });
  const choices = [
    ["pollutant", "污染物", "Pollutant", distinct(totals.map((t) => t.pollutant))],
    ["year", "年份", "Year", distinct(totals.map((t) => t.year))],
    ["industry_code", "行业", "Industry", distinct(totals.map((t) => t.industry_code))],
  ];
  const selects = {};
  for (const [name, zh, en, values] of choices) {
    if (values.length < 2) continue;
    const select = h("select", { name, id: `c-${name}` }, values.map((v) => h("option", { value: v, text: v })));
    selects[name] = select;
    form.appendChild(h("label", {}, h("span", {}, `${zh} `, h("span", { class: "en", text: en })), select));
  }
  const measure = h(
    "select",
    { name: "measure", id: "c-measure" },
    h("option", { value: "emitted", text: "排放量 Emitted" }),
    h("option", { value: "generated", text: "产生量 Generated" }),
  );
  form.appendChild(h("label", {}, h("span", {}, "指标 ", h("span", { class: "en", text: "Measure" })), measure));
  const draw = () => {
    const chosen = {};
    for (const [name, , , values] of choices) chosen[name] = selects[name] ? selects[name].value : values[0];
    const lines = totals.filter((t) => Object.entries(chosen).every(([k, v]) => show(t[k]) === v));
    const bars = lines.map((t) => ({
      key: show(t.region_code),
      label: t.region_name ? `${t.region_name}` : show(t.region_code),
      value: show(t[measure.value]),
    }));
    const unit = lines.length ? show(lines[0].unit) : "";
    const title = `${chosen.pollutant} · ${chosen.year}${totals.some((t) => t.industry_code) ? ` · ${chosen.industry_code}` : ""} · ${measure.value === "emitted" ? "排放量 Emitted" : "产生量 Generated"}`;
    box.replaceChildren(
      bars.length ? barChart(bars, { title, unit }) : h("p", { class: "empty", text: "无数据。No totals." }),
    );
    box.setAttribute("data-pollutant", chosen.pollutant);
    box.setAttribute("data-year", chosen.year);
    box.setAttribute("data-industry", chosen.industry_code);
    box.setAttribute("data-measure", measure.value);
  };
  form.addEventListener("change", draw);
  form.addEventListener("submit", (e) => e.preventDefault());
  draw();
  return form;
}
