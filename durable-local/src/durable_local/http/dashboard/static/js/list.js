// The instances view: filters, counts per status, a histogram of starts, one page of the list
// (paged with the continuation token) refreshed live without reloading the page.

import { call, query } from "./api.js";
import { STATUSES, badge, esc, instanceHref, markOnce, when } from "./dom.js";

const LIST_REFRESH_MS = 2000;
const PAGE_SIZE = 50;
// Counts and the histogram scan every matching instance on the host: refreshed less often
// than the page of rows (and at once when the filters change, which makes a new view).
const SUMMARY_REFRESH_MS = 10000;

function isoFromLocal(value) {
  if (!value) return "";
  const date = new Date(`${value}Z`);  // the inputs are read as UTC, as the list shows times
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

export class InstancesView {
  constructor(root, params) {
    this.root = root;
    this.filters = {
      status: (params.get("status") || "").split(",").filter(Boolean),
      name: params.get("name") || "",
      prefix: params.get("prefix") || "",
      from: params.get("from") || "",
      to: params.get("to") || "",
    };
    this.tokens = [null];  // the token of each page seen so far; the last is the current one
    this.next = null;
    this.live = true;
    this.busy = false;
    this.summaryAt = 0;
    this.render();
    this.refresh();
    this.timer = setInterval(() => { if (this.live) this.refresh(); }, LIST_REFRESH_MS);
  }

  destroy() { clearInterval(this.timer); }

  render() {
    const f = this.filters;
    this.root.innerHTML = `
      <h1>Instances</h1>
      <form id="filters" class="filters">
        <fieldset class="statuses"><legend>Status</legend>${STATUSES.map((s) => `
          <label class="chip"><input type="checkbox" name="status" value="${s}"${f.status.includes(s) ? " checked" : ""}>
          ${s} <span class="count" data-count="${s}">·</span></label>`).join("")}
        </fieldset>
        <label>Name <input name="name" value="${esc(f.name)}" placeholder="contains"></label>
        <label>Instance ID prefix <input name="prefix" value="${esc(f.prefix)}"></label>
        <label>Created from (UTC) <input type="datetime-local" step="1" name="from" value="${esc(f.from)}"></label>
        <label>to <input type="datetime-local" step="1" name="to" value="${esc(f.to)}"></label>
        <button type="submit" class="primary">Apply</button>
        <button type="button" id="clear">Clear</button>
        <label class="live"><input type="checkbox" id="live" checked> Live</label>
      </form>
      <p id="list-error" class="error" role="alert" hidden></p>
      <section class="summary"><span id="total" class="muted"></span>
        <div id="histogram" class="histogram" aria-label="Starts over time"></div>
        <div id="histogram-range" class="muted small"></div></section>
      <table class="instances">
        <thead><tr><th>Instance ID</th><th>Name</th><th>Status</th><th>Created (UTC)</th><th>Last updated (UTC)</th></tr></thead>
        <tbody id="rows"></tbody>
      </table>
      <div class="pager">
        <button type="button" id="first">First page</button>
        <button type="button" id="prev">Previous</button>
        <span id="page-no"></span>
        <button type="button" id="next">Next page</button>
      </div>`;
    const form = this.root.querySelector("#filters");
    form.addEventListener("submit", (event) => { event.preventDefault(); this.apply(form); });
    form.addEventListener("change", (event) => { if (event.target.name === "status") this.apply(form); });
    this.root.querySelector("#clear").addEventListener("click", () => {
      this.filters = { status: [], name: "", prefix: "", from: "", to: "" };
      this.navigate();
    });
    this.root.querySelector("#live").addEventListener("change", (e) => { this.live = e.target.checked; });
    this.root.querySelector("#first").addEventListener("click", () => { this.tokens = [null]; this.refresh(); });
    this.root.querySelector("#prev").addEventListener("click", () => {
      if (this.tokens.length > 1) { this.tokens.pop(); this.refresh(); }
    });
    this.root.querySelector("#next").addEventListener("click", () => {
      if (this.next) { this.tokens.push(this.next); this.refresh(); }
    });
    this.root.querySelector("#rows").addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-id]");
      if (row && !event.target.closest("a")) location.hash = instanceHref(row.dataset.id);
    });
  }

  apply(form) {
    const data = new FormData(form);
    this.filters = {
      status: data.getAll("status"),
      name: String(data.get("name") || "").trim(),
      prefix: String(data.get("prefix") || "").trim(),
      from: String(data.get("from") || ""),
      to: String(data.get("to") || ""),
    };
    this.navigate();
  }

  navigate() {
    const f = this.filters;
    const params = new URLSearchParams();
    if (f.status.length) params.set("status", f.status.join(","));
    for (const name of ["name", "prefix", "from", "to"]) if (f[name]) params.set(name, f[name]);
    const text = params.toString();
    location.hash = `#/instances${text ? `?${text}` : ""}`;
  }

  apiFilters() {
    const f = this.filters;
    return {
      runtimeStatus: f.status.join(","),
      name: f.name,
      instanceIdPrefix: f.prefix,
      createdTimeFrom: isoFromLocal(f.from),
      createdTimeTo: isoFromLocal(f.to),
    };
  }

  async refresh() {
    if (this.busy) return;
    this.busy = true;
    const error = this.root.querySelector("#list-error");
    try {
      const token = this.tokens[this.tokens.length - 1];
      const headers = token ? { "x-ms-continuation-token": token } : {};
      const page = call("GET", `api/instances${query({ ...this.apiFilters(), top: PAGE_SIZE })}`, { headers });
      const { body } = await page;
      this.showRows(body.items);
      markOnce("dashboard:list-rendered");
      this.next = body.continuationToken;
      this.showPager();
      error.hidden = true;
      if (!this.summaryAt || Date.now() - this.summaryAt >= SUMMARY_REFRESH_MS) {
        const { body: summary } = await call("GET", `api/summary${query(this.apiFilters())}`);
        this.summaryAt = Date.now();
        this.showSummary(summary);
        markOnce("dashboard:summary-rendered");
      }
    } catch (exc) {
      error.textContent = exc.message;
      error.hidden = false;
    } finally {
      this.busy = false;
    }
  }

  showRows(items) {
    const rows = this.root.querySelector("#rows");
    if (!items.length) {
      rows.innerHTML = '<tr><td colspan="5" class="muted">No instances match.</td></tr>';
      return;
    }
    rows.innerHTML = items.map((item) => `<tr data-id="${esc(item.instanceId)}">
      <td><a href="${instanceHref(item.instanceId)}">${esc(item.instanceId)}</a></td>
      <td>${esc(item.name)}</td><td>${badge(item.runtimeStatus)}</td>
      <td>${esc(when(item.createdTime))}</td><td>${esc(when(item.lastUpdatedTime))}</td></tr>`).join("");
  }

  showPager() {
    this.root.querySelector("#page-no").textContent = `Page ${this.tokens.length}`;
    this.root.querySelector("#prev").disabled = this.tokens.length <= 1;
    this.root.querySelector("#first").disabled = this.tokens.length <= 1;
    this.root.querySelector("#next").disabled = !this.next;
  }

  showSummary(summary) {
    for (const status of STATUSES) {
      const cell = this.root.querySelector(`[data-count="${status}"]`);
      if (cell) cell.textContent = String(summary.counts[status] ?? 0);
    }
    this.root.querySelector("#total").textContent = `${summary.total} instance${summary.total === 1 ? "" : "s"}`;
    const histogram = summary.histogram;
    const box = this.root.querySelector("#histogram");
    const peak = Math.max(1, ...histogram.counts);
    const start = histogram.from ? new Date(histogram.from).getTime() : 0;
    box.innerHTML = histogram.counts.map((count, i) => {
      const at = when(new Date(start + i * histogram.bucketSeconds * 1000).toISOString());
      return `<span class="bar" style="height:${Math.max(count ? 4 : 0, (100 * count) / peak)}%"
        title="${esc(`${count} started from ${at}`)}" data-count="${count}"></span>`;
    }).join("");
    this.root.querySelector("#histogram-range").textContent = histogram.from
      ? `starts from ${when(histogram.from)} to ${when(histogram.to)}` : "";
  }
}
