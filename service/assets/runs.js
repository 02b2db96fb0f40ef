// 核算运行 Runs: the stored accounting runs, newest first, each with the edition it used.
import { api, editionLink, h, page, seg, show, start, table } from "./common.js";

start(async () => {
  const runs = await api("/api/v1/runs");
  const main = page("核算运行", "Runs");
  main.appendChild(
    h(
      "p",
      { class: "lead" },
      "每次核算都记录所用系数版本及其内容哈希、输入文件的哈希。Every stored run names the edition and content hash it used and the hashes of its inputs.",
    ),
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
      ["地区级别", "Region level"],
      ["读取行", "Rows read", "num"],
      ["已核算", "Accounted", "num"],
      ["排除", "Excluded", "num"],
      ["未核算", "Unaccounted", "num"],
      ["操作人", "Actor"],
    ],
    { class: "runs" },
  );
  for (const run of runs) {
    tbody.appendChild(
      h(
        "tr",
        { "data-run": run.id },
        h("td", { class: "num", "data-field": "id" }, h("a", { href: `/runs/${seg(run.id)}`, text: `#${run.id}` })),
        h("td", { "data-field": "started_at", text: show(run.started_at) }),
        h("td", { "data-field": "edition" }, editionLink(run.edition)),
        h("td", { "data-field": "content_hash" }, h("code", { title: run.edition.content_hash, text: run.edition.content_hash.slice(0, 12) })),
        h("td", { "data-field": "region_level", text: show(run.region_level) }),
        h("td", { class: "num", "data-field": "rows_read", text: String(run.counts.rows_read) }),
        h("td", { class: "num", "data-field": "rows_accounted", text: String(run.counts.rows_accounted) }),
        h("td", { class: "num", "data-field": "rows_excluded", text: String(run.counts.rows_excluded) }),
        h("td", { class: "num", "data-field": "rows_unaccounted", text: String(run.counts.rows_unaccounted) }),
        h("td", { "data-field": "actor", text: show(run.actor) }),
      ),
    );
  }
  main.appendChild(wrap);
});

