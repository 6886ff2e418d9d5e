// Every call the dashboard makes: same-origin fetch, the master key (when the host asks for
// one) from sessionStorage in the x-functions-key header, never in a URL. Errors carry the
// API's own message.

const KEY_NAME = "durable-local.master-key";
export const DURABLE = "/runtime/webhooks/durabletask";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

let pendingKey = null;

function askForKey(rejected) {
  if (pendingKey) return pendingKey;
  const dialog = document.getElementById("key-dialog");
  const form = document.getElementById("key-form");
  const input = document.getElementById("key-input");
  const error = document.getElementById("key-error");
  error.hidden = !rejected;
  error.textContent = rejected ? "That key was refused (401). Try again." : "";
  input.value = "";
  pendingKey = new Promise((resolve, reject) => {
    const submitted = () => {
      dialog.removeEventListener("cancel", cancelled);
      sessionStorage.setItem(KEY_NAME, input.value);
      pendingKey = null;
      resolve();
    };
    const cancelled = () => {  // Escape: no key, so the call fails with a 401 the view shows
      form.removeEventListener("submit", submitted);
      pendingKey = null;
      reject(new ApiError(401, "401: this host enforces keys and no master key was given.", null));
    };
    form.addEventListener("submit", submitted, { once: true });
    dialog.addEventListener("cancel", cancelled, { once: true });
  });
  dialog.showModal();
  return pendingKey;
}

function messageOf(status, body, text) {
  if (body && typeof body === "object") {
    const parts = [body.Message, body.ExceptionMessage].filter(Boolean);
    if (parts.length) return parts.join(" ");
  }
  if (typeof body === "string" && body) return body;
  return text || `HTTP ${status}`;
}

export async function call(method, url, options = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = { ...(options.headers || {}) };
    const key = sessionStorage.getItem(KEY_NAME);
    if (key) headers["x-functions-key"] = key;
    if (options.json !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(url, {
      method,
      headers,
      body: options.json !== undefined ? options.json : undefined,
      credentials: "same-origin",
      cache: "no-store",
    });
    if (response.status === 401 && attempt < 5) {
      await askForKey(Boolean(key));
      continue;
    }
    const text = await response.text();
    let body = null;
    if (text) {
      try { body = JSON.parse(text); } catch { body = text; }
    }
    if (!response.ok) {
      throw new ApiError(response.status, `${response.status}: ${messageOf(response.status, body, text)}`, body);
    }
    return { status: response.status, body, headers: response.headers };
  }
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export function instanceUrl(id, suffix = "") {
  return `${DURABLE}/instances/${encodeURIComponent(id)}${suffix}`;
}
