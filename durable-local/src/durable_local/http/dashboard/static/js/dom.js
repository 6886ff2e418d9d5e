// Small DOM helpers: escaping, elements, times and durations, the status badge, a toast.

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

export function badge(status) {
  return `<span class="badge status-${esc(status)}">${esc(status)}</span>`;
}

export function when(text) {
  if (!text) return "";
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return String(text);
  return date.toISOString().replace("T", " ").replace("Z", "").replace(/\.000$/, "");
}

export function duration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  if (ms < 3600000) return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
  return `${(ms / 3600000).toFixed(1)} h`;
}

export function instanceHref(id) {
  return `#/instance/${encodeURIComponent(id)}`;
}

let toastTimer = null;
export function toast(message, isError = false) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.className = isError ? "error" : "";
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
}

export const TERMINAL = new Set(["Completed", "Failed", "Terminated", "Canceled"]);
export const STATUSES = [
  "Pending", "Running", "Suspended", "Completed", "Failed", "Terminated", "ContinuedAsNew", "Canceled",
];

// A performance mark the first time a view has drawn its data (read by bench/dashboard.py:
// milliseconds since the page's navigation started).
export function markOnce(name) {
  if (!performance.getEntriesByName(name, "mark").length) performance.mark(name);
}
