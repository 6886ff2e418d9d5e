// The functions view: the app's functions by kind, HTTP functions with their URLs.

import { call } from "./api.js";
import { esc } from "./dom.js";

export class FunctionsView {
  constructor(root) {
    this.root = root;
    this.root.innerHTML = '<h1>Functions</h1><p class="muted">Loading…</p>';
    this.load();
  }

  destroy() {}

  async load() {
    try {
      const { body } = await call("GET", "api/functions");
      const http = body.http.map((f) => `<tr><td>${esc(f.name)}</td><td>${esc(f.methods.join(", "))}</td>
        <td><code>${esc(f.url)}</code></td><td>${esc(f.authLevel)}</td><td>${f.durableClient ? "yes" : ""}</td></tr>`).join("");
      const orchestrators = body.orchestrators.map((f) => `<tr><td>${esc(f.name)}</td><td>${esc(f.functionName)}</td>
        <td><code>POST ${esc(f.startUrl)}</code></td><td><a href="#/instances?name=${encodeURIComponent(f.name)}">instances</a></td></tr>`).join("");
      const activities = body.activities.map((f) => `<tr><td>${esc(f.name)}</td><td>${esc(f.functionName)}</td></tr>`).join("");
      const unsupported = body.unsupported.map((f) => `<li>${esc(f.name)}: ${esc(f.trigger)} (not run by durable-local)</li>`).join("");
      this.root.innerHTML = `<h1>Functions</h1>
        <p class="muted">Task hub ${esc(body.taskHub)}, route prefix "${esc(body.routePrefix)}"</p>
        <section><h2>HTTP (${body.http.length})</h2><table class="functions" id="http-functions"><thead><tr><th>Name</th><th>Methods</th><th>URL</th><th>Auth</th><th>Durable client</th></tr></thead><tbody>${http}</tbody></table></section>
        <section><h2>Orchestrators (${body.orchestrators.length})</h2><table class="functions" id="orchestrator-functions"><thead><tr><th>Name</th><th>Function</th><th>Start</th><th></th></tr></thead><tbody>${orchestrators}</tbody></table></section>
        <section><h2>Activities (${body.activities.length})</h2><table class="functions" id="activity-functions"><thead><tr><th>Name</th><th>Function</th></tr></thead><tbody>${activities}</tbody></table></section>
        ${unsupported ? `<section><h2>Not supported</h2><ul>${unsupported}</ul></section>` : ""}
        <section><h2>Entities</h2><p class="muted">Entities come with the entity issue; durable-local does not run entity functions yet.</p></section>`;
    } catch (exc) {
      this.root.innerHTML = `<h1>Functions</h1><p class="error" role="alert">${esc(exc.message)}</p>`;
    }
  }
}
