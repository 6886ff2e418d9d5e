// Formatted, collapsible JSON: objects and arrays are <details> elements, open to a depth.

import { esc } from "./dom.js";

function scalar(value) {
  if (value === null) return '<span class="j-null">null</span>';
  if (typeof value === "string") return `<span class="j-str">${esc(JSON.stringify(value))}</span>`;
  if (typeof value === "number") return `<span class="j-num">${esc(value)}</span>`;
  if (typeof value === "boolean") return `<span class="j-bool">${value}</span>`;
  return esc(String(value));
}

function node(value, depth, openDepth) {
  if (value === null || typeof value !== "object") return scalar(value);
  const isArray = Array.isArray(value);
  const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
  const [open, close] = isArray ? ["[", "]"] : ["{", "}"];
  if (!entries.length) return `${open}${close}`;
  const summary = isArray ? `${entries.length} item${entries.length === 1 ? "" : "s"}`
    : `${entries.length} key${entries.length === 1 ? "" : "s"}`;
  const rows = entries.map(([k, v]) => {
    const label = isArray ? "" : `<span class="j-key">${esc(JSON.stringify(k))}</span>: `;
    return `<div class="j-row">${label}${node(v, depth + 1, openDepth)}</div>`;
  }).join("");
  return `<details class="j-node"${depth < openDepth ? " open" : ""}><summary>${open} <span class="muted">${summary}</span></summary>`
    + `<div class="j-body">${rows}</div>${close}</details>`;
}

export function jsonHtml(value, openDepth = 2) {
  if (value === undefined) return '<span class="muted">(none)</span>';
  return `<div class="json">${node(value, 0, openDepth)}</div>`;
}
