// The Health tab: each component of GET /health, up or down.
import { h, showError } from "./dom.js";
import { t } from "./i18n.js";

export async function loadHealth(root) {
  const target = root.querySelector("#health-table");
  try {
    // /health answers 200 with status "degraded" when a component is down: read it whatever.
    const response = await fetch("/health");
    const body = await response.json();
    const rows = Object.entries(body.services || {}).map(([name, ok]) =>
      h("tr", { class: ok ? "up" : "down" }, h("td", {}, name), h("td", { class: "state" }, ok ? `● ${t("healthy")}` : `● ${t("down")}`)),
    );
    target.replaceChildren(
      h("p", {}, h("strong", { id: "health-status" }, body.status || ""), ` · ${t("checkedAt")} ${body.timestamp || ""}`),
      h("table", { class: "result-table" }, h("thead", {}, h("tr", {}, h("th", {}, t("component")), h("th", {}, t("status")))), h("tbody", {}, rows)),
    );
  } catch (error) {
    showError(target, error, t);
  }
}
