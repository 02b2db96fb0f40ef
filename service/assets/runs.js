// 核算运行 Runs: the stored accounting runs, newest first.
import { api, h, page, show, start, table } from "./common.js";

start(async () => {
  const data = await api("/api/v1/runs");
  const runs = Array.isArray(data) ? data : data.runs || [];
  const main = page("核算运行", "Runs");
  main.appendChild(
    h("p", { class: "lead" }, "每次核算都记录所用系数版本及其内容哈希。Every stored accounting names the edition and content hash it used."),
  );
  if (!runs.length) {
    main.appendChild(h("p", { class: "empty", text: "尚无核算运行。No runs yet." }));
    return;
  }
  const { table: wrap, tbody } = table(
    [
      ["编号", "Run", "num"],
      ["开始时间", "Started"],
      ["系数版本", "Edition"],
      ["内容哈希", "Content hash"],
      ["读取行", "Rows read", "num"],
      ["已核算", "Accounted", "num"],
      ["排除", "Excluded", "num"],
      ["未核算", "Unaccounted", "num"],
      ["操作人", "Actor"],
    ],
    { class: "runs" },
  );
  for (const run of runs) {
    const counts = run.counts || run;
    const edition = run.edition_name || (run.set_id ? `${run.set_id}@${show(run.edition)}` : show(run.edition));
    tbody.appendChild(
      h(
        "tr",
        { "data-run": run.id },
        h("td", { class: "num", "data-field": "id" }, h("a", { href: `/runs/${encodeURIComponent(run.id)}`, text: `#${run.id}` })),
        h("td", { "data-field": "started_at", text: show(run.started_at) }),
        h("td", { "data-field": "edition", text: edition }),
        h("td", { "data-field": "content_hash" }, h("code", { title: show(run.content_hash), text: show(run.content_hash).slice(0, 12) })),
        h("td", { class: "num", "data-field": "rows_read", text: show(counts.rows_read) }),
        h("td", { class: "num", "data-field": "rows_accounted", text: show(counts.rows_accounted) }),
        h("td", { class: "num", "data-field": "rows_excluded", text: show(counts.rows_excluded) }),
        h("td", { class: "num", "data-field": "rows_unaccounted", text: show(counts.rows_unaccounted) }),
        h("td", { "data-field": "actor", text: show(run.actor) }),
      ),
    );
  }
  main.appendChild(wrap);
});
