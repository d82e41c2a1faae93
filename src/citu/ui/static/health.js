// The Health tab: each component of GET /health, up or down, and what is wrong when degraded.
import { h, showError } from "./dom.js";
import { t } from "./i18n.js";

function componentRow([name, ok]) {
  const state = ok ? `● ${t("healthy")}` : `● ${t("down")}`;
  return h("tr", { class: ok ? "up" : "down" }, h("td", {}, name), h("td", { class: "state" }, state));
}

export async function loadHealth(root) {
  const target = root.querySelector("#health-table");
  try {
    // /health answers 200 with status "degraded" when a component is down: read it whatever.
    const response = await fetch("/health");
    const body = await response.json();
    const head = h("thead", {}, h("tr", {}, h("th", {}, t("component")), h("th", {}, t("status"))));
    const rows = Object.entries(body.services || {}).map(componentRow);
    const problems = (body.problems || []).map((problem) => h("li", { class: "error" }, problem));
    const parts = [
      h("p", {}, h("strong", { id: "health-status" }, body.status || ""), ` · ${t("checkedAt")} ${body.timestamp || ""}`),
      problems.length ? h("ul", { class: "problems" }, problems) : null,
      h("table", { class: "result-table" }, head, h("tbody", {}, rows)),
    ];
    target.replaceChildren(...parts.filter(Boolean));
  } catch (error) {
    showError(target, error, t);
  }
}
