// The Conversations tab: a user's conversations and, on a click, the messages of one.
import { call } from "./api.js";
import { h, showError } from "./dom.js";
import { t } from "./i18n.js";

export function setUpConversations(root) {
  const form = root.querySelector("#conversations-form");
  const list = root.querySelector("#conversation-list");
  const messages = root.querySelector("#conversation-messages");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const userId = form.user_id.value.trim() || "guest";
    messages.replaceChildren();
    try {
      const body = await call(`/api/v0/user/${encodeURIComponent(userId)}/conversations`);
      const items = body.data.conversations || [];
      if (!items.length) {
        list.replaceChildren(h("li", { class: "muted" }, t("noConversations")));
        return;
      }
      list.replaceChildren(...items.map((item) => conversationItem(item, messages)));
    } catch (error) {
      showError(list, error, t);
    }
  });
}

function conversationItem(item, messages) {
  const open = async () => {
    try {
      const path = `/api/v0/conversation/${encodeURIComponent(item.conversation_id)}/messages`;
      const body = await call(path);
      messages.replaceChildren(
        ...(body.data.messages || []).map((message) =>
          h(
            "div",
            { class: `message ${message.role}` },
            h("div", { class: "meta" }, `${message.role} · ${message.timestamp || ""}`),
            h("div", {}, message.content || ""),
            message.metadata && message.metadata.sql ? h("pre", { class: "sql" }, message.metadata.sql) : null,
          ),
        ),
      );
    } catch (error) {
      showError(messages, error, t);
    }
  };
  const title = item.conversation_title || item.conversation_id;
  return h(
    "li",
    {},
    h("button", { type: "button", class: "link", onclick: open }, title),
    h("span", { class: "muted" }, ` ${item.updated_at || item.created_at || ""} · ${item.message_count ?? ""}`),
  );
}
