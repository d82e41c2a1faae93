// The Ask tab: a question streamed through ask_agent_stream (progress, then the answer with
// its SQL, rows, chart and summary) and a thumbs up/down recorded as QA feedback.
import { call, query, streamFrames } from "./api.js";
import { renderChart } from "./chart.js";
import { h, showError } from "./dom.js";
import { t } from "./i18n.js";
import { pagedTable } from "./table.js";

export function setUpAsk(root) {
  const form = root.querySelector("#ask-form");
  const button = form.querySelector("button[type=submit]");
  const carryOn = form.continue_conversation;
  let lastConversation = null;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = form.question.value.trim();
    if (!question) return;
    const userId = form.user_id.value.trim() || "guest";
    button.disabled = true;
    button.textContent = t("asking");
    const conversationId = carryOn.checked ? lastConversation : null;
    try {
      lastConversation = (await ask(root, question, userId, conversationId)) || lastConversation;
      carryOn.disabled = !lastConversation;
    } finally {
      button.disabled = false;
      button.textContent = t("ask");
    }
  });
}

// Streams one answer into the page; resolves with its conversation id.
async function ask(root, question, userId, conversationId) {
  const progress = root.querySelector("#ask-progress");
  const answer = root.querySelector("#ask-answer");
  progress.replaceChildren();
  answer.replaceChildren();
  answer.dataset.state = "running";
  const params = { question, user_id: userId, conversation_id: conversationId };
  const path = `/api/v0/ask_agent_stream?${query(params)}`;
  let answered = null;
  let completed = false;
  try {
    for await (const frame of streamFrames(path)) {
      const data = frame.data || {};
      if (data.type === "progress") {
        const details = [data.details, data.sub_status].filter(Boolean).join(" · ");
        progress.append(h("li", { class: "step" }, h("strong", {}, data.display_name || data.node), details ? ` ${details}` : ""));
      } else if (data.type === "completed") {
        showAnswer(answer, data, question, userId);
        answered = data.conversation_id;
        completed = true;
      } else if (data.type === "error") {
        throw new Error(data.error || frame.message);
      }
    }
    if (!completed) throw new Error(t("streamEnded"));
    answer.dataset.state = "done";
  } catch (error) {
    answer.dataset.state = "failed";
    showError(answer, error, t);
  }
  return answered;
}

function showAnswer(answer, data, question, userId) {
  const result = data.query_result || null;
  const parts = [h("section", { class: "answer-text" }, h("h3", {}, t("answer")), h("p", {}, data.response || ""))];
  if (data.summary && data.summary !== data.response) {
    parts.push(h("section", {}, h("h3", {}, t("summary")), h("p", { class: "summary" }, data.summary)));
  }
  if (data.sql) parts.push(h("section", {}, h("h3", {}, t("sql")), h("pre", { class: "sql" }, data.sql)));
  const chartBox = h("div", { class: "chart-box", id: "answer-chart" });
  if (data.chart) parts.push(h("section", {}, h("h3", {}, t("chart")), chartBox));
  const tableBox = h("div", { id: "answer-table" });
  const hasRows = result && Array.isArray(result.rows);
  if (hasRows) parts.push(h("section", {}, h("h3", {}, t("result")), tableBox));
  if (data.sql) parts.push(feedbackBar(question, data.sql, userId));
  answer.replaceChildren(...parts);
  if (data.chart) showChart(chartBox, data.chart);
  if (hasRows) {
    const columns = result.columns || (result.rows[0] ? Object.keys(result.rows[0]) : []);
    pagedTable(tableBox, columns, result.rows);
  }
}

function showChart(box, chart) {
  renderChart(box, chart, { noChartText: t("noChart") });
  const meta = (chart.usermeta && chart.usermeta.citu) || {};
  if (meta.truncated) {
    const shown = ((chart.data || {}).values || []).length;
    box.append(h("div", { class: "muted" }, t("truncated", { shown, rows: meta.rows })));
  }
}

function feedbackBar(question, sql, userId) {
  const note = h("span", { class: "feedback-note", role: "status" });
  const send = async (isThumbUp, button) => {
    try {
      const body = await call("/api/v0/qa_feedback/add", {
        method: "POST",
        json: { question, sql, is_thumb_up: isThumbUp, user_id: userId },
      });
      note.textContent = t("feedbackSaved", { id: body.data.feedback_id });
      button.parentElement.querySelectorAll("button").forEach((b) => (b.disabled = true));
    } catch (error) {
      showError(note, error, t);
    }
  };
  const up = h("button", { type: "button", class: "thumb-up", onclick: (e) => send(true, e.currentTarget) }, t("thumbUp"));
  const down = h("button", { type: "button", class: "thumb-down", onclick: (e) => send(false, e.currentTarget) }, t("thumbDown"));
  return h("div", { class: "feedback" }, up, down, note);
}
