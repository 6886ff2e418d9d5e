// One instance: status, input/output/custom status, timeline, children and parent, the full
// history on demand, and the actions.

import { ApiError, DURABLE, call, instanceUrl, query } from "./api.js";
import { ACTIONS, confirmAction } from "./actions.js";
import { TERMINAL, badge, esc, instanceHref, markOnce, toast, when } from "./dom.js";
import { jsonHtml } from "./json.js";
import { renderTimeline } from "./timeline.js";

const INSTANCE_REFRESH_MS = 2000;
const CHILD_PAGE = 200;

export class InstanceView {
  constructor(root, id) {
    this.root = root;
    this.id = id;
    this.updated = null;
    this.status = null;
    this.childToken = null;
    this.root.innerHTML = `
      <p><a href="#/instances">← Instances</a></p>
      <h1 class="instance-id">${esc(id)}</h1>
      <p id="instance-error" class="error" role="alert" hidden></p>
      <div id="summary"></div>
      <div class="actions" id="actions">${Object.entries(ACTIONS).map(([name, a]) =>
        `<button type="button" data-action="${name}" class="${a.danger ? "danger" : ""}">${a.label}</button>`).join("")}</div>
      <section><h2>Parent</h2><div id="parent" class="muted">Looking…</div></section>
      <div class="panels">
        <section><h2>Input</h2><div id="input"></div></section>
        <section><h2>Output</h2><div id="output"></div></section>
        <section><h2>Custom status</h2><div id="custom"></div></section>
      </div>
      <section><h2>Timeline</h2><div id="timeline"></div></section>
      <section><h2>Children</h2><div id="children-summary" class="muted"></div>
        <ul id="children" class="children"></ul>
        <button type="button" id="more-children" hidden>More children</button></section>
      <section><h2>History</h2><button type="button" id="show-history">Show full history</button>
        <div id="history"></div></section>`;
    this.root.querySelector("#actions").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button) confirmAction(button.dataset.action, this.id, (name, result) => this.acted(name, result));
    });
    this.root.querySelector("#show-history").addEventListener("click", () => this.showHistory());
    this.root.querySelector("#more-children").addEventListener("click", () => this.loadChildren(false));
    this.refresh();
    this.loadParent();
    this.loadChildren(true);
    this.timer = setInterval(() => {
      if (this.status && !TERMINAL.has(this.status)) this.refresh();
    }, INSTANCE_REFRESH_MS);
  }

  destroy() { clearInterval(this.timer); }

  acted(name, result) {
    if (name === "purge") {
      toast(`Purged ${this.id}`);
      location.hash = "#/instances";
      return;
    }
    if (name === "restart" && result.body && result.body.id && result.body.id !== this.id) {
      toast(`Restarted as ${result.body.id}`);
      location.hash = instanceHref(result.body.id);
      return;
    }
    toast(`${ACTIONS[name].label}: accepted`);
    this.updated = null;
    setTimeout(() => this.refresh(), 300);
  }

  async refresh() {
    const error = this.root.querySelector("#instance-error");
    try {
      const { body } = await call("GET", instanceUrl(this.id, query({ showHistory: "true" })));
      error.hidden = true;
      this.status = body.runtimeStatus;
      // lastUpdatedTime has whole seconds: the status and the history's length tell more.
      const seen = [body.runtimeStatus, body.lastUpdatedTime, (body.historyEvents || []).length,
        JSON.stringify(body.customStatus)].join("|");
      if (seen === this.updated) return;
      this.updated = seen;
      this.show(body);
    } catch (exc) {
      error.textContent = exc.message;
      error.hidden = false;
      if (exc instanceof ApiError && exc.status === 404) this.status = "Completed";  // stop polling
    }
  }

  show(status) {
    this.root.querySelector("#summary").innerHTML = `<dl class="facts">
      <dt>Name</dt><dd>${esc(status.name)}</dd>
      <dt>Status</dt><dd id="status">${badge(status.runtimeStatus)}</dd>
      <dt>Created (UTC)</dt><dd>${esc(when(status.createdTime))}</dd>
      <dt>Last updated (UTC)</dt><dd>${esc(when(status.lastUpdatedTime))}</dd></dl>`;
    this.root.querySelector("#input").innerHTML = jsonHtml(status.input);
    this.root.querySelector("#output").innerHTML = jsonHtml(status.output);
    this.root.querySelector("#custom").innerHTML = jsonHtml(status.customStatus);
    renderTimeline(this.root.querySelector("#timeline"), status.historyEvents, status.runtimeStatus);
    markOnce("dashboard:timeline-rendered");
  }

  async loadParent() {
    // The history the extension renders names no parent; child ids derived from the parent's
    // id ("parent:..."), as this project's apps derive them, lead back to it.
    const box = this.root.querySelector("#parent");
    const parts = this.id.split(":");
    for (let cut = parts.length - 1; cut >= 1; cut--) {
      const candidate = parts.slice(0, cut).join(":");
      try {
        const { body } = await call("GET", instanceUrl(candidate, query({ showInput: "false" })));
        box.innerHTML = `<a href="${instanceHref(candidate)}">${esc(candidate)}</a> (${esc(body.name)}) ${badge(body.runtimeStatus)}`;
        box.className = "";
        return;
      } catch (exc) {
        if (!(exc instanceof ApiError) || exc.status !== 404) break;
      }
    }
    box.textContent = "None (a top-level instance)";
  }

  async loadChildren(first) {
    const list = this.root.querySelector("#children");
    const more = this.root.querySelector("#more-children");
    if (first) { list.innerHTML = ""; this.childToken = null; this.childCounts = {}; this.childTotal = 0; }
    const headers = this.childToken ? { "x-ms-continuation-token": this.childToken } : {};
    try {
      const url = `${DURABLE}/instances${query({ instanceIdPrefix: `${this.id}:`, top: CHILD_PAGE, showInput: "false" })}`;
      const { body, headers: answer } = await call("GET", url, { headers });
      this.childToken = answer.get("x-ms-continuation-token") || null;
      list.insertAdjacentHTML("beforeend", body.map((child) => {
        this.childCounts[child.runtimeStatus] = (this.childCounts[child.runtimeStatus] || 0) + 1;
        const outcome = child.output === null || child.output === undefined ? "" : JSON.stringify(child.output);
        return `<li data-child="${esc(child.instanceId)}"><a href="${instanceHref(child.instanceId)}">${esc(child.instanceId)}</a>
          <span class="muted">${esc(child.name)}</span> ${badge(child.runtimeStatus)}
          <span class="outcome" title="${esc(outcome)}">${esc(outcome.slice(0, 120))}</span></li>`;
      }).join(""));
      this.childTotal += body.length;
      more.hidden = !this.childToken;
      const counts = Object.entries(this.childCounts).map(([s, n]) => `${n} ${s}`).join(", ");
      this.root.querySelector("#children-summary").textContent = this.childTotal
        ? `${this.childTotal}${this.childToken ? "+" : ""} children: ${counts}` : "No children.";
    } catch (exc) {
      this.root.querySelector("#children-summary").textContent = exc.message;
    }
  }

  async showHistory() {
    const box = this.root.querySelector("#history");
    try {
      const url = instanceUrl(this.id, query({ showHistory: "true", showHistoryOutput: "true", showInput: "true" }));
      const { body } = await call("GET", url);
      const rows = (body.historyEvents || []).map((event) => {
        const { EventType: type, Timestamp: at, ...rest } = event;
        return `<tr><td>${esc(when(at))}</td><td>${esc(type)}</td><td>${esc(rest.FunctionName || rest.Name || "")}</td>`
          + `<td>${jsonHtml(rest, 0)}</td></tr>`;
      }).join("");
      box.innerHTML = `<table class="history"><thead><tr><th>Time (UTC)</th><th>Event</th><th>Name</th><th>Details</th></tr></thead><tbody>${rows}</tbody></table>`;
    } catch (exc) {
      box.innerHTML = `<p class="error" role="alert">${esc(exc.message)}</p>`;
    }
  }
}
