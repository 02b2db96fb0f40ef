// 发布 Publish (administrator): upload a coefficient table as a set's draft, read the full
// validation report, then publish the draft with a revision note. The token stays in this tab's
// sessionStorage and is sent as `Authorization: Bearer`.
import { ApiFailure, api, errorBox, getToken, h, issuesTable, page, seg, setToken, show, start, statusBadge } from "./common.js";

start(async () => {
  const main = page("发布", "Publish");
  main.appendChild(
    h(
      "p",
      { class: "lead" },
      "上传系数表作为草稿，检查后附修订说明发布。需要管理员令牌。Upload a coefficient table as a draft, check it, then publish it with a revision note. Needs an administrator's token.",
    ),
  );
  main.appendChild(tokenForm());
  main.appendChild(uploadForm());
  main.appendChild(h("div", { id: "report", "aria-live": "polite" }));
  main.appendChild(h("section", { id: "drafts" }));
  await listDrafts();
});

function tokenForm() {
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", placeholder: "npsc_…", value: getToken() });
  const form = h(
    "form",
    { class: "card", id: "token-form" },
    h("h2", {}, "令牌 ", h("span", { class: "en", text: "Token" })),
    h("label", {}, h("span", {}, "API 令牌 ", h("span", { class: "en", text: "API token" })), input),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", id: "save-token", text: "保存 Save" }),
      h("button", {
        type: "button",
        class: "secondary",
        text: "清除 Forget",
        onclick: () => {
          input.value = "";
          setToken("");
          listDrafts();
        },
      }),
    ),
    h("p", { class: "hint", text: "只保存在本标签页 (sessionStorage)。Kept in this tab only (sessionStorage)." }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    listDrafts();
  });
  return form;
}

function field(id, zh, en, attrs = {}) {
  return h("label", {}, h("span", {}, `${zh} `, h("span", { class: "en", text: en })), h("input", { id, name: id, ...attrs }));
}

function uploadForm() {
  const form = h(
    "form",
    { class: "card", id: "upload-form" },
    h("h2", {}, "上传草稿 ", h("span", { class: "en", text: "Upload a draft" })),
    h(
      "div",
      { class: "grid" },
      field("set", "系数集", "Set id", { required: true, pattern: "[A-Za-z0-9._\\-]+", placeholder: "mee-2021" }),
      field("title", "标题", "Title"),
      field("effective_from", "生效日期", "Effective from", { type: "date" }),
      field("provenance", "来源", "Provenance", { required: true }),
      field("file", "系数表 (CSV/Excel)", "Table", { type: "file", required: true, accept: ".csv,.txt,.xlsx,.xlsm,.xls,.ods" }),
      h("label", { class: "check" }, h("input", { type: "checkbox", id: "synthetic", name: "synthetic" }), " 合成数据 Synthetic numbers"),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", id: "upload", text: "上传并检查 Upload and check" })),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const report = document.getElementById("report");
    report.replaceChildren(h("p", { class: "loading", text: "检查中… Checking…" }));
    const set = form.elements.set.value.trim();
    const params = new URLSearchParams();
    for (const name of ["title", "effective_from", "provenance"]) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    }
    if (form.elements.synthetic.checked) params.set("synthetic", "true");
    const body = new FormData();
    body.append("file", form.elements.file.files[0]);
    try {
      const draft = await api(`/api/v1/sets/${seg(set)}/drafts?${params}`, { method: "POST", body });
      report.replaceChildren(draftCard(draft, "上传成功，草稿已保存。Uploaded: the draft is stored."));
      await listDrafts(draft.name);
    } catch (e) {
      report.replaceChildren(uploadFailure(e));
    }
  });
  return form;
}

function uploadFailure(e) {
  if (e instanceof ApiFailure && e.status === 422) {
    return h(
      "div",
      { class: "error", role: "alert", id: "validation", "data-status": 422 },
      h("p", { class: "error-title", text: "校验未通过，未保存任何内容。Validation failed; nothing was stored." }),
      h("p", { class: "error-message", text: e.message }),
      issuesTable(e.details),
    );
  }
  return errorBox(e);
}

/** A draft with its publish form. */
function draftCard(draft, message) {
  const note = h("textarea", { name: "note", rows: 2, required: true, placeholder: "修订说明 Revision note" });
  const result = h("div", { class: "publish-result" });
  const badge = statusBadge(draft.status);
  const form = h(
    "form",
    { class: "publish-form" },
    h("label", {}, h("span", {}, "修订说明 ", h("span", { class: "en", text: "Revision note" })), note),
    h("div", { class: "actions" }, h("button", { type: "submit", text: `发布 Publish ${draft.name}` })),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = note.value.trim();
    if (!text) {
      result.replaceChildren(h("p", { class: "error", text: "请填写修订说明。A revision note is needed." }));
      return;
    }
    result.replaceChildren(h("p", { class: "loading", text: "发布中… Publishing…" }));
    try {
      const published = await api(`/api/v1/sets/${seg(draft.set_id)}/editions/${draft.edition}/publish`, {
        method: "POST",
        body: { note: text },
      });
      form.remove();
      badge.replaceWith(statusBadge(published.status));
      result.replaceChildren(
        h(
          "p",
          { class: "ok", id: "published", "data-edition": published.name },
          "已发布 Published ",
          h("a", { href: `/sets/${seg(published.set_id)}/editions/${published.edition}`, text: published.name }),
          ` · ${show(published.published_at)} · ${show(published.published_by)}`,
        ),
      );
    } catch (e) {
      result.replaceChildren(errorBox(e));
    }
  });
  return h(
    "div",
    { class: "card draft", "data-edition": draft.name },
    message ? h("p", { class: "ok", text: message }) : null,
    h(
      "p",
      {},
      badge,
      " ",
      h("a", { href: `/sets/${seg(draft.set_id)}/editions/${draft.edition}`, text: draft.name }),
      ` · ${draft.row_count} 行 rows · `,
      h("code", { title: draft.content_hash, text: draft.content_hash.slice(0, 12) }),
    ),
    h("p", { class: "title", text: draft.title }),
    form,
    result,
  );
}

/** The other drafts (drafts are only listed for a token), each with a publish form. */
let listing = 0;
async function listDrafts(except) {
  const section = document.getElementById("drafts");
  if (!section) return;
  // Only the latest call draws: an earlier one still waiting for the API gives way.
  const mine = ++listing;
  section.replaceChildren();
  if (!getToken()) return;
  let editions;
  try {
    editions = await api("/api/v1/editions");
  } catch (e) {
    if (mine === listing) section.append(errorBox(e));
    return;
  }
  if (mine !== listing) return;
  // The draft just uploaded is shown above, with its own publish form.
  const drafts = editions.filter((e) => e.status === "draft" && e.name !== except);
  section.appendChild(h("h2", {}, "待发布草稿 ", h("span", { class: "en", text: "Drafts" })));
  if (!drafts.length) section.appendChild(h("p", { class: "empty", text: "没有草稿。No drafts." }));
  for (const d of drafts) section.appendChild(draftCard(d));
}
