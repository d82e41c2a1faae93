// A result table paged in the browser: the answer already carries its (capped) rows.
import { cellText, h } from "./dom.js";
import { t } from "./i18n.js";

const NUMBER = /^-?\d+(\.\d+)?$/;

// Numbers (also those sent as text, like NUMERIC values) align right so their digits line up.
function cell(value) {
  const text = cellText(value);
  const numeric = typeof value === "number" || NUMBER.test(text);
  return h("td", { class: numeric ? "num" : null }, text);
}

export function pagedTable(container, columns, rows, pageSize = 10) {
  const pages = Math.max(1, Math.ceil(rows.length / pageSize));
  let page = 1;
  const body = h("tbody");
  const status = h("span", { class: "page-status" });
  const prev = h("button", { type: "button", class: "prev", onclick: () => show(page - 1) }, t("prev"));
  const next = h("button", { type: "button", class: "next", onclick: () => show(page + 1) }, t("next"));

  function show(target) {
    page = Math.min(Math.max(1, target), pages);
    const slice = rows.slice((page - 1) * pageSize, page * pageSize);
    body.replaceChildren(
      ...slice.map((row) =>
        h("tr", {}, columns.map((column, i) => cell(Array.isArray(row) ? row[i] : row[column]))),
      ),
    );
    status.textContent = `${t("page", { page, pages })} · ${t("rowsShown", { total: rows.length })}`;
    prev.disabled = page === 1;
    next.disabled = page === pages;
  }

  if (!rows.length) {
    container.replaceChildren(h("div", { class: "muted" }, t("noRows")));
    return;
  }
  const numeric = columns.map((column, i) =>
    rows.every((row) => {
      const value = Array.isArray(row) ? row[i] : row[column];
      return value === null || value === undefined || NUMBER.test(cellText(value));
    }),
  );
  const head = h("thead", {}, h("tr", {}, columns.map((column, i) => h("th", { class: numeric[i] ? "num" : null }, column))));
  container.replaceChildren(
    h("div", { class: "table-wrap" }, h("table", { class: "result-table" }, head, body)),
    h("div", { class: "pager" }, prev, status, next),
  );
  show(1);
}
