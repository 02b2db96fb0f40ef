// 核算运行 Run: one stored run's provenance, its regional totals as a table, and a bar chart of
// one pollutant's totals by region (inline SVG). At the run's own grouping the lines are the run's
// stored totals (/api/v1/runs/{id}/totals); another region level comes from /api/v1/statistics.
// Every number is the API's string.
import { api, editionLink, h, page, pathSegments, seg, show, start, table } from "./common.js";
import { barChart } from "./chart.js";

const LEVELS = [
  ["", "本次运行 The run's own"],
  ["national", "全国 National"],
  ["province", "省级 Province"],
  ["prefecture", "地市级 Prefecture"],
  ["county", "区县级 County"],
];

const COLUMNS = [
  ["year", "年份", "Year", "num"],
  ["region_code", "地区代码", "Region code"],
  ["region_name", "地区", "Region"],
  ["industry_code", "行业代码", "Industry code"],
  ["industry_name", "行业", "Industry"],
  ["pollutant", "污染物", "Pollutant"],
  ["unit", "单位", "Unit"],
  ["generated", "产生量", "Generated", "num"],
  ["emitted", "排放量", "Emitted", "num"],
  ["rows", "结果数", "Results", "num"],
  ["flagged_rows", "标记", "Flagged", "num"],
];

start(async () => {
  const [, id] = pathSegments();
  const level = new URLSearchParams(location.search).get("region_level") || "";
  const run = await api(`/api/v1/runs/${seg(id)}`);
  const main = page("核算运行", "Run", `#${run.id} · ${run.edition.name}`);
  main.appendChild(runCard(run));

  const form = h("form", { class: "filters", id: "level-form", method: "get" });
  const select = h(
    "select",
    { name: "region_level", id: "c-region_level" },
    LEVELS.map(([value, label]) => h("option", { value, selected: value === level, text: label })),
  );
  form.appendChild(h("label", {}, h("span", {}, "地区级别 ", h("span", { class: "en", text: "Region level" })), select));
  select.addEventListener("change", () => {
    const q = new URLSearchParams();
    if (select.value) q.set("region_level", select.value);
    location.assign(`${location.pathname}${q.size ? `?${q}` : ""}`);
  });
  form.addEventListener("submit", (e) => e.preventDefault());
  main.appendChild(form);

  let lines;
  let source;
  if (level) {
    const stats = await api(`/api/v1/statistics?run=${encodeURIComponent(run.id)}&region_level=${encodeURIComponent(level)}`);
    lines = stats.lines;
    source = `/api/v1/statistics · ${stats.region_level} · ${stats.industry_level} · ${stats.source}`;
  } else {
    lines = (await api(`/api/v1/runs/${seg(run.id)}/totals`)).totals;
    source = `/api/v1/runs/${run.id}/totals · ${run.region_level} · ${run.industry_level}`;
  }

  main.appendChild(h("h2", {}, "地区排放图 ", h("span", { class: "en", text: "Totals by region" })));
  const chartBox = h("div", { class: "chart", id: "chart" });
  main.appendChild(chartControls(lines, chartBox));
  main.appendChild(chartBox);

  main.appendChild(h("h2", {}, "汇总表 ", h("span", { class: "en", text: "Totals" })));
  main.appendChild(
    h("p", { class: "summary" }, h("span", { id: "total-lines", "data-lines": lines.length, text: `共 ${lines.length} 行 ${lines.length} lines` }), h("code", { text: source })),
  );
  const withIndustry = lines.some((l) => l.industry_code);
  const present = COLUMNS.filter(([field]) => withIndustry || !field.startsWith("industry_"));
  const { table: wrap, tbody } = table(
    present.map(([, zh, en, cls]) => [zh, en, cls]),
    { class: "totals", id: "totals" },
  );
  for (const l of lines) {
    tbody.appendChild(
      h(
        "tr",
        {},
        present.map(([field, , , cls]) =>
          h("td", { class: cls, "data-field": field, title: field === "pollutant" ? l.pollutant_code : undefined, text: show(l[field]) }),
        ),
      ),
    );
  }
  main.appendChild(wrap);
});

function runCard(run) {
  const dl = h(
    "dl",
    {},
    h("dt", { text: "系数版本 Edition" }),
    h("dd", { "data-field": "edition" }, editionLink(run.edition)),
    h("dt", { text: "内容哈希 Content hash" }),
    h("dd", {}, h("code", { "data-field": "content_hash", text: run.edition.content_hash })),
    h("dt", { text: "版本选择 Selector" }),
    h("dd", { text: [run.selector, run.rule, run.date].filter(Boolean).join(" · ") }),
    h("dt", { text: "分组 Grouping" }),
    h("dd", { text: `${run.region_level} · ${run.industry_level}` }),
    h("dt", { text: "行数 Rows" }),
    h(
      "dd",
      { "data-field": "counts" },
      `读取 read ${run.counts.rows_read} · 已核算 accounted ${run.counts.rows_accounted} · 排除 excluded ${run.counts.rows_excluded} · 未核算 unaccounted ${run.counts.rows_unaccounted}`,
    ),
    h("dt", { text: "输入 Inputs" }),
    h(
      "dd",
      {},
      h(
        "ul",
        { class: "inputs" },
        run.inputs.map((i) => h("li", {}, `${i.role}: ${i.label} `, h("code", { title: i.sha256, text: i.sha256.slice(0, 12) }))),
      ),
    ),
    h("dt", { text: "操作人 Actor" }),
    h("dd", { text: show(run.actor) }),
    h("dt", { text: "时间 Time" }),
    h("dd", { text: `${run.started_at} → ${run.finished_at} (${run.duration_ms} ms)` }),
  );
  return h("section", { class: "card", id: "run", "data-run": run.id }, dl);
}

const distinct = (values) => [...new Set(values)];

/** Selects for the chart: pollutant, year, industry (when there are several), measure. */
function chartControls(lines, box) {
  const form = h("form", { class: "filters", id: "chart-controls" });
  const names = new Map(lines.map((l) => [l.pollutant_code, l.pollutant || l.pollutant_code]));
  const choices = [
    ["pollutant_code", "污染物", "Pollutant", distinct(lines.map((l) => l.pollutant_code)), (v) => `${names.get(v)} ${v}`],
    ["year", "年份", "Year", distinct(lines.map((l) => String(l.year))), String],
    ["industry_code", "行业", "Industry", distinct(lines.map((l) => show(l.industry_code))), String],
  ];
  const selects = {};
  for (const [name, zh, en, values, label] of choices) {
    if (values.length < 2) continue;
    const select = h("select", { name, id: `c-${name}` }, values.map((v) => h("option", { value: v, text: label(v) })));
    selects[name] = select;
    form.appendChild(h("label", {}, h("span", {}, `${zh} `, h("span", { class: "en", text: en })), select));
  }
  // The pollutant reported for the most regions is drawn first.
  if (selects.pollutant_code) {
    const regions = (code) => new Set(lines.filter((l) => l.pollutant_code === code).map((l) => l.region_code)).size;
    const values = choices[0][3];
    selects.pollutant_code.value = values.reduce((best, v) => (regions(v) > regions(best) ? v : best), values[0]);
  }
  const measure = h(
    "select",
    { name: "measure", id: "c-measure" },
    h("option", { value: "emitted", text: "排放量 Emitted" }),
    h("option", { value: "generated", text: "产生量 Generated" }),
  );
  form.appendChild(h("label", {}, h("span", {}, "指标 ", h("span", { class: "en", text: "Measure" })), measure));
  const key = (l, name) => (name === "industry_code" ? show(l[name]) : String(l[name]));
  const draw = () => {
    const chosen = {};
    for (const [name, , , values] of choices) chosen[name] = selects[name] ? selects[name].value : values[0];
    const selected = lines.filter((l) => choices.every(([name]) => key(l, name) === chosen[name]));
    const bars = selected.map((l) => ({
      key: show(l.region_code),
      label: l.region_name || show(l.region_code),
      value: l[measure.value],
    }));
    const unit = selected.length ? selected[0].unit : "";
    const what = measure.value === "emitted" ? "排放量 Emitted" : "产生量 Generated";
    const title = `${names.get(chosen.pollutant_code) || ""} ${chosen.pollutant_code} · ${chosen.year} · ${what}`;
    box.replaceChildren(bars.length ? barChart(bars, { title, unit }) : h("p", { class: "empty", text: "无数据。No totals." }));
    box.setAttribute("data-pollutant", chosen.pollutant_code || "");
    box.setAttribute("data-year", chosen.year || "");
    box.setAttribute("data-industry", chosen.industry_code || "");
    box.setAttribute("data-measure", measure.value);
  };
  form.addEventListener("change", draw);
  form.addEventListener("submit", (e) => e.preventDefault());
  draw();
  return form;
}
