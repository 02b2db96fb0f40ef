// 版本比较 Diff: two editions of one set, row by row (added, removed, changed, renamed keys).
import { api, h, page, pathSegments, seg, show, start, table } from "./common.js";

const COUNTS = [
  ["unchanged", "未变", "Unchanged"],
  ["changed", "已修改", "Changed"],
  ["added", "新增", "Added"],
  ["removed", "删除", "Removed"],
  ["renamed", "更名", "Renamed"],
];

start(async () => {
  const [, set] = pathSegments();
  const query = new URLSearchParams(location.search);
  const editions = await api(`/api/v1/editions?set=${encodeURIComponent(set)}`);
  const main = page("版本比较", "Diff", set);
  editions.sort((a, b) => b.edition - a.edition);
  const numbers = editions.map((e) => String(e.edition));
  const to = query.get("to") || numbers[0] || "";
  const from = query.get("from") || numbers.find((n) => Number(n) < Number(to)) || numbers[1] || "";
  main.appendChild(chooser(editions, from, to));
  if (!from || !to) {
    main.appendChild(h("p", { class: "empty", text: "需要两个版本。Two editions are needed." }));
    return;
  }
  const diff = await api(`/api/v1/sets/${seg(set)}/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
  document.title = `${diff.old.name} → ${diff.new.name} 版本比较 Diff · npsc`;
  main.querySelector("h1 small").textContent = `${diff.old.name} → ${diff.new.name}`;

  const counts = {
    unchanged: diff.unchanged,
    changed: diff.changed.length,
    added: diff.added.length,
    removed: diff.removed.length,
    renamed: diff.renamed.length,
  };
  main.appendChild(
    h(
      "dl",
      { class: "counts", id: "counts" },
      COUNTS.map(([key, zh, en]) =>
        h("div", { class: `count count-${key}`, "data-count": key }, h("dt", {}, `${zh} `, h("span", { class: "en", text: en })), h("dd", { text: String(counts[key]) })),
      ),
    ),
  );
  main.appendChild(
    h(
      "p",
      { class: "hashes" },
      h("code", { title: diff.old.content_hash, text: `${diff.old.name} ${diff.old.content_hash.slice(0, 12)}` }),
      " → ",
      h("code", { title: diff.new.content_hash, text: `${diff.new.name} ${diff.new.content_hash.slice(0, 12)}` }),
    ),
  );

  if (diff.changed.length) {
    main.appendChild(h("h2", {}, "已修改 ", h("span", { class: "en", text: "Changed" })));
    const { table: wrap, tbody } = table(
      [
        ["系数键", "Key"],
        ["字段", "Field"],
        ["原值", "Old", "num"],
        ["新值", "New", "num"],
        ["相对变化", "Relative", "num"],
      ],
      { class: "changed", id: "changed" },
    );
    diff.changed.forEach((c, i) => {
      c.fields.forEach((f, j) => {
        const tr = h("tr", { "data-change": i, "data-field-name": f.field });
        if (j === 0) {
          tr.appendChild(
            h(
              "td",
              { rowspan: c.fields.length, class: "key", "data-field": "key" },
              c.key,
              c.new_key !== c.key ? h("div", { class: "new-key", text: `→ ${c.new_key}` }) : null,
            ),
          );
        }
        tr.append(
          h("td", { "data-field": "field", text: f.field }),
          h("td", { class: "num old", "data-field": "old", text: show(f.old) }),
          h("td", { class: "num new", "data-field": "new", text: show(f.new) }),
          h("td", { class: "num", "data-field": "relative", text: show(f.relative) }),
        );
        tbody.appendChild(tr);
      });
    });
    main.appendChild(wrap);
  }
  keyList(main, "added", "新增", "Added", diff.added);
  keyList(main, "removed", "删除", "Removed", diff.removed);
  if (diff.renamed.length) {
    main.appendChild(h("h2", {}, "更名 ", h("span", { class: "en", text: "Renamed" })));
    main.appendChild(
      h("ul", { class: "keys", id: "renamed" }, diff.renamed.map((r) => h("li", { text: `${r.key} → ${r.new_key}` }))),
    );
  }
  if (!diff.changed.length && !diff.added.length && !diff.removed.length && !diff.renamed.length) {
    main.appendChild(h("p", { class: "empty", text: "两个版本内容相同。The two editions have the same rows." }));
  }
});

function keyList(main, id, zh, en, keys) {
  if (!keys.length) return;
  main.appendChild(h("h2", {}, `${zh} `, h("span", { class: "en", text: en })));
  main.appendChild(h("ul", { class: "keys", id }, keys.map((k) => h("li", { text: k }))));
}

function chooser(editions, from, to) {
  const select = (name, chosen) =>
    h(
      "select",
      { name, id: `f-${name}` },
      editions.map((e) =>
        h("option", { value: e.edition, selected: String(e.edition) === chosen, text: `${e.name} (${e.status})` }),
      ),
    );
  return h(
    "form",
    { class: "filters", method: "get", id: "chooser" },
    h("label", {}, h("span", {}, "原版本 ", h("span", { class: "en", text: "From" })), select("from", from)),
    h("label", {}, h("span", {}, "新版本 ", h("span", { class: "en", text: "To" })), select("to", to)),
    h("div", { class: "actions" }, h("button", { type: "submit", text: "比较 Compare" })),
  );
}
