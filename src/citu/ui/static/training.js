// The Training data tab: search (paged on the server), add one item, delete one, upload a file.
import { call } from "./api.js";
import { h, showError } from "./dom.js";
import { t } from "./i18n.js";

const PAGE_SIZE = 20;

export function setUpTraining(root) {
  const search = root.querySelector("#training-search");
  const results = root.querySelector("#training-results");
  const status = root.querySelector("#training-status");
  let page = 1;

  async function load(target = 1) {
    page = target;
    try {
      const body = await call("/api/v0/training_data/query", {
        method: "POST",
        json: {
          page,
          page_size: PAGE_SIZE,
          training_data_type: search.kind.value || null,
          search_keyword: search.keyword.value.trim() || null,
        },
      });
      showRecords(results, body.data, load);
    } catch (error) {
      showError(results, error, t);
    }
  }
  search.addEventListener("submit", (event) => {
    event.preventDefault();
    load(1);
  });
  root.querySelector("#training-add").addEventListener("submit", (event) => {
    event.preventDefault();
    addItem(event.currentTarget, status).then(() => load(page));
  });
  root.querySelector("#training-upload").addEventListener("submit", (event) => {
    event.preventDefault();
    upload(event.currentTarget, status).then(() => load(1));
  });
}

function showRecords(results, data, load) {
  const pagination = data.pagination || { page: 1, total_pages: 1, total: 0 };
  const rows = (data.records || []).map((record) =>
    h(
      "tr",
      { dataset: { id: record.id } },
      h("td", {}, record.training_data_type),
      h("td", {}, record.question || ""),
      h("td", {}, h("pre", { class: "sql" }, record.content || "")),
      h("td", {}, h("button", { type: "button", class: "danger", onclick: () => remove(record.id, results, () => load(pagination.page)) }, t("delete"))),
    ),
  );
  const head = h("tr", {}, h("th", {}, t("type")), h("th", {}, t("question")), h("th", {}, t("content")), h("th", {}));
  results.replaceChildren(
    h("table", { class: "result-table" }, h("thead", {}, head), h("tbody", {}, rows)),
    h(
      "div",
      { class: "pager" },
      h("button", { type: "button", disabled: !pagination.has_prev, onclick: () => load(pagination.page - 1) }, t("prev")),
      h("span", {}, `${t("page", { page: pagination.page, pages: Math.max(pagination.total_pages, 1) })} · ${t("total", { total: pagination.total })}`),
      h("button", { type: "button", disabled: !pagination.has_next, onclick: () => load(pagination.page + 1) }, t("next")),
    ),
  );
}

async function remove(id, results, reload) {
  if (!window.confirm(t("confirmDelete"))) return;
  try {
    await call("/api/v0/training_data/delete", { method: "POST", json: { ids: [id], confirm: true } });
    await reload();
  } catch (error) {
    showError(results, error, t);
  }
}

async function addItem(form, status) {
  const kind = form.kind.value;
  const text = form.text.value.trim();
  const item = { training_data_type: kind };
  if (kind === "sql" || kind === "error_sql") Object.assign(item, { question: form.question.value.trim(), sql: text });
  else if (kind === "ddl") item.ddl = text;
  else item.content = text;
  try {
    await call("/api/v0/training_data/create", { method: "POST", json: { data: item } });
    status.textContent = t("added");
    form.reset();
  } catch (error) {
    showError(status, error, t);
  }
}

async function upload(form, status) {
  const data = new FormData();
  data.append("file", form.file.files[0]);
  data.append("file_type", form.file_type.value);
  try {
    const body = await call("/api/v0/training_data/upload", { method: "POST", form: data });
    status.textContent = t("uploaded", { text: body.data.response || "" });
  } catch (error) {
    showError(status, error, t);
  }
}
