// 系数版本 Editions: every coefficient set with its editions, newest first.
import { api, h, page, seg, show, start, statusBadge, table } from "./common.js";

start(async () => {
  const editions = await api("/api/v1/editions");
  const main = page("系数版本", "Editions");
  main.appendChild(
    h(
      "p",
      { class: "lead" },
      "每个系数集的各版本；已发布版本不可更改。Every coefficient set and its editions; published editions never change.",
    ),
  );
  if (!editions.length) {
    main.appendChild(h("p", { class: "empty", text: "尚无版本。No editions yet." }));
    return;
  }
  const sets = new Map();
  for (const e of editions) {
    if (!sets.has(e.set_id)) sets.set(e.set_id, []);
    sets.get(e.set_id).push(e);
  }
  // Newest first within a set, whatever order the API lists them in.
  for (const list of sets.values()) list.sort((a, b) => b.edition - a.edition);
  for (const [setId, list] of sets) {
    const section = h("section", { class: "set", "data-set": setId });
    const newest = list[0];
    section.appendChild(h("h2", {}, h("code", { text: setId }), " ", h("span", { class: "title", text: newest.title })));
    const compare = list.filter((e) => e.status !== "draft");
    if (list.length >= 2) {
      const to = list[0].edition;
      const from = (compare.find((e) => e.edition < to) || list[1]).edition;
      section.appendChild(
        h(
          "p",
          {},
          h("a", { class: "button", href: `/sets/${seg(setId)}/diff?from=${from}&to=${to}`, text: `比较 Diff @${from} → @${to}` }),
        ),
      );
    }
    const { table: wrap, tbody } = table(
      [
        ["版本", "Edition"],
        ["状态", "Status"],
        ["生效日期", "Effective from"],
        ["行数", "Rows", "num"],
        ["发布", "Published"],
        ["修订说明", "Revision note"],
        ["内容哈希", "Content hash"],
      ],
      { class: "editions" },
    );
    for (const e of list) {
      tbody.appendChild(
        h(
          "tr",
          { "data-edition": e.name },
          h("td", { "data-field": "name" }, h("a", { href: `/sets/${seg(e.set_id)}/editions/${e.edition}`, text: e.name })),
          h("td", { "data-field": "status" }, statusBadge(e.status)),
          h("td", { "data-field": "effective_from", text: show(e.effective_from) }),
          h("td", { class: "num", "data-field": "row_count", text: String(e.row_count) }),
          h(
            "td",
            { "data-field": "published" },
            e.published_at ? `${e.published_at} · ${show(e.published_by)}` : "—",
            e.retired_at ? h("div", { class: "retired", text: `废止 retired ${e.retired_at}: ${show(e.retire_note)}` }) : null,
          ),
          h("td", { "data-field": "revision_note", text: show(e.revision_note) }),
          h("td", { "data-field": "content_hash" }, h("code", { title: e.content_hash, text: e.content_hash.slice(0, 12) })),
        ),
      );
    }
    section.appendChild(wrap);
    if (newest.synthetic) section.appendChild(h("p", { class: "warn", text: "合成数据 Synthetic numbers" }));
    main.appendChild(section);
  }
});
