// A tiny element builder: text always goes in as text nodes, never as HTML, so values from the
// server (questions, SQL, cells, log lines) cannot inject markup.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function cellText(value) {
  if (value === null || value === undefined) return "∅";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function showError(target, error, t) {
  const text = error && error.status === 401 ? t("unauthorized") : (error && error.message) || String(error);
  target.replaceChildren(h("div", { class: "error", role: "alert" }, t("error", { text })));
}
