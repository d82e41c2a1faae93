// The Pipeline tab: create and run a task over a list of tables, then follow its steps and its
// log by polling the task routes until the task is no longer running.
import { call } from "./api.js";
import { h, showError } from "./dom.js";
import { t } from "./i18n.js";

const BASE = "/api/v0/data_pipeline/tasks";
const POLL_MS = 1000;
const RUNNING = new Set(["pending", "in_progress"]);

export function setUpPipeline(root) {
  const form = root.querySelector("#pipeline-form");
  const list = root.querySelector("#task-list");
  const detail = root.querySelector("#task-detail");
  let timer = null;

  const follow = (taskId) => {
    clearTimeout(timer);
    const tick = async () => {
      const running = await showTask(detail, taskId);
      if (running) timer = setTimeout(tick, POLL_MS);
      else loadTasks(list, follow);
    };
    tick();
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const taskId = await startTask(form);
      follow(taskId);
    } catch (error) {
      showError(detail, error, t);
    }
  });
  root.querySelector("#task-refresh").addEventListener("click", () => loadTasks(list, follow));
  root.querySelector("#list-tables").addEventListener("click", async () => {
    try {
      const body = await call("/api/v0/database/tables", { method: "POST", json: {} });
      form.tables.value = (body.data.tables || []).join(", ");
    } catch (error) {
      showError(detail, error, t);
    }
  });
  return () => loadTasks(list, follow);
}

async function startTask(form) {
  const tables = form.tables.value.split(/[,，\s]+/).filter(Boolean);
  const created = await call(BASE, {
    method: "POST",
    json: { task_name: form.task_name.value.trim() || null, business_context: form.business_context.value.trim() || null },
  });
  const taskId = created.data.task_id;
  await call(`${BASE}/${encodeURIComponent(taskId)}/table-list`, { method: "POST", json: { tables } });
  await call(`${BASE}/${encodeURIComponent(taskId)}/execute`, { method: "POST", json: {} });
  return taskId;
}

async function loadTasks(list, follow) {
  try {
    const body = await call(`${BASE}?limit=20`);
    list.replaceChildren(
      ...(body.data.tasks || []).map((task) =>
        h(
          "li",
          {},
          h("button", { type: "button", class: "link", onclick: () => follow(task.task_id) }, task.task_name || task.task_id),
          h("span", { class: `badge ${task.status}` }, task.status),
          h("span", { class: "muted" }, ` ${task.created_at || ""}`),
        ),
      ),
    );
  } catch (error) {
    showError(list, error, t);
  }
}

// Shows the task's steps and log tail; resolves true while the task is still running.
async function showTask(detail, taskId) {
  try {
    const id = encodeURIComponent(taskId);
    const [task, logs] = await Promise.all([call(`${BASE}/${id}`), call(`${BASE}/${id}/logs?limit=200`)]);
    const data = task.data;
    const steps = (data.steps || []).map((step) =>
      h(
        "li",
        { class: `step ${step.step_status}`, dataset: { step: step.step_name, status: step.step_status } },
        h("strong", {}, step.step_name),
        h("span", { class: `badge ${step.step_status}` }, step.step_status),
        step.error_message ? h("span", { class: "error" }, ` ${step.error_message}`) : null,
      ),
    );
    const lines = (logs.data.logs || []).map((entry) => `${entry.timestamp} [${entry.level}] ${entry.message}`);
    detail.replaceChildren(
      h("h3", {}, `${data.task_name || data.task_id} `, h("span", { id: "task-status", class: `badge ${data.status}`, dataset: { status: data.status } }, data.status)),
      h("h4", {}, t("steps")),
      h("ol", { class: "steps", id: "task-steps" }, steps),
      h("h4", {}, t("logs")),
      h("pre", { class: "logs", id: "task-logs" }, lines.join("\n")),
    );
    return RUNNING.has(data.status);
  } catch (error) {
    showError(detail, error, t);
    return false;
  }
}
