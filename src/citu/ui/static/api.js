// Calls to citu's HTTP API from the page: the admin key (when one is entered) on every call,
// the envelope's message on failure, and Server-Sent Events read from a fetch stream (so the
// key can travel in a header, which EventSource cannot send).

const KEY_STORAGE = "citu.adminKey";

export function adminKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function setAdminKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

export class ApiError extends Error {
  constructor(status, text) {
    super(text);
    this.status = status;
  }
}

function headers(extra = {}) {
  const key = adminKey();
  return key ? { ...extra, "X-API-Key": key } : extra;
}

// The text a failed reply explains itself with (the envelope's response, else its message).
function failureText(status, body) {
  if (body && typeof body === "object") {
    const data = body.data && typeof body.data === "object" ? body.data : {};
    return data.response || data.error || body.error || body.message || `HTTP ${status}`;
  }
  return `HTTP ${status}`;
}

// Sends a request; `json` is sent as a JSON body, `form` as multipart. Resolves with the
// parsed body; rejects with ApiError when the HTTP status or the envelope says it failed.
export async function call(path, { method = "GET", json, form } = {}) {
  const init = { method, headers: headers() };
  if (json !== undefined) {
    init.headers = headers({ "Content-Type": "application/json" });
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  const response = await fetch(path, init);
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok || (body && body.success === false)) {
    throw new ApiError(response.status, failureText(response.status, body));
  }
  return body;
}

// Yields each `data:` frame of an event stream, parsed as JSON.
export async function* streamFrames(path) {
  const response = await fetch(path, { headers: headers({ Accept: "text/event-stream" }) });
  if (!response.ok || !response.body) throw new ApiError(response.status, `HTTP ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (data) yield JSON.parse(data);
    }
  }
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  return search.toString();
}
