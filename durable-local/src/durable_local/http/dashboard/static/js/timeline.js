// The Gantt timeline of one instance, from its showHistory events: activities and
// sub-orchestrations (scheduled -> completed or failed), timers (created -> fire time) and
// external events (a point in time). The extension shows a task only once it has finished,
// so a running instance's pending activities are not in its history; its timers are.

import { duration, esc, when } from "./dom.js";

// A short input tells rows of the same function apart (which device, which city).
function inputHint(text) {
  if (typeof text !== "string" || !text) return "";
  let value = text;
  try { value = JSON.parse(text); } catch { /* stored as plain text */ }
  if (typeof value === "string") {
    try { value = JSON.parse(value); } catch { /* a plain string */ }
  }
  const shown = typeof value === "string" ? value : JSON.stringify(value);
  return shown && shown !== "null" ? ` (${shown.length > 40 ? `${shown.slice(0, 40)}…` : shown})` : "";
}

function ms(text) {
  const value = new Date(text).getTime();
  return Number.isNaN(value) ? null : value;
}

export function timelineItems(history) {
  const items = [];
  let start = null;
  let end = null;
  const timers = new Map();
  for (const event of history || []) {
    const at = ms(event.Timestamp);
    switch (event.EventType) {
      case "ExecutionStarted":
        start = at;
        break;
      case "ExecutionCompleted":
      case "ExecutionTerminated":
      case "ContinueAsNew":
        end = at;
        break;
      case "TaskCompleted":
      case "TaskFailed":
        items.push({ kind: "activity", name: (event.FunctionName || "activity") + inputHint(event.Input), from: ms(event.ScheduledTime) ?? at,
          to: at, failed: event.EventType === "TaskFailed" });
        break;
      case "SubOrchestrationInstanceCompleted":
      case "SubOrchestrationInstanceFailed":
        items.push({ kind: "orchestration", name: (event.FunctionName || "sub-orchestration") + inputHint(event.Input),
          from: ms(event.ScheduledTime) ?? at, to: at, failed: event.EventType.endsWith("Failed") });
        break;
      case "TimerCreated": {
        const item = { kind: "timer", name: "timer", from: at, to: ms(event.FireAt), pending: true };
        timers.set(event.FireAt, item);
        items.push(item);
        break;
      }
      case "TimerFired": {
        const item = timers.get(event.FireAt);
        if (item) { item.pending = false; item.to = at ?? item.to; }
        break;
      }
      case "EventRaised":
        items.push({ kind: "event", name: event.Name || "event", from: at, to: at });
        break;
      default:
        break;
    }
  }
  return { items, start, end };
}

// The duration goes right of its bar, or left of it when the bar ends near the right edge.
function timeAt(left, width) {
  return left + width > 85 ? `right:${100 - left}%;padding-right:4px` : `left:${left + width}%`;
}

export function renderTimeline(box, history, runtimeStatus) {
  const { items, start, end } = timelineItems(history);
  if (!items.length) {
    box.innerHTML = '<p class="muted">Nothing on the timeline yet (no finished activity, timer, sub-orchestration or event).</p>';
    return;
  }
  const first = Math.min(start ?? Infinity, ...items.map((i) => i.from ?? Infinity));
  const last = Math.max(end ?? (runtimeStatus === "Running" ? Date.now() : -Infinity),
    ...items.map((i) => i.to ?? i.from ?? -Infinity));
  const span = Math.max(1, last - first);
  const pct = (t) => (100 * (t - first)) / span;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) =>
    `<span class="tick" style="left:${f * 100}%">+${esc(duration(f * span))}</span>`).join("");
  const rows = items.map((item) => {
    const from = item.from ?? first;
    const to = item.to ?? from;
    const took = to - from;
    const left = pct(from);
    const width = Math.max(0.3, pct(to) - left);
    const state = item.failed ? " failed" : item.pending ? " pending" : "";
    const label = item.kind === "event" ? `event ${item.name}` : item.name;
    const title = `${item.kind} ${item.name}: ${when(new Date(from).toISOString())}`
      + (item.kind === "event" ? "" : ` → ${duration(took)}${item.failed ? " (failed)" : item.pending ? " (pending)" : ""}`);
    return `<div class="g-row" data-kind="${item.kind}"><span class="g-label">${esc(label)}</span>`
      + `<span class="g-track"><span class="g-bar ${item.kind}${state}" style="left:${left}%;width:${item.kind === "event" ? 0.6 : width}%" title="${esc(title)}"></span>`
      + `<span class="g-time" style="${timeAt(left, width)}">${item.kind === "event" ? "" : esc(duration(took))}</span></span></div>`;
  }).join("");
  box.innerHTML = `<div class="gantt"><div class="g-axis"><span class="g-label muted">${items.length} item${items.length === 1 ? "" : "s"}, ${esc(duration(span))} in all</span><span class="g-track">${ticks}</span></div>${rows}</div>`;
}
