// The instance actions: each one asks for confirmation (and its inputs) in a dialog, calls the
// Durable HTTP API and, when the API refuses, shows its error in the dialog.

import { call, instanceUrl, query } from "./api.js";
import { esc } from "./dom.js";

const REASON = '<label>Reason <input name="reason" autocomplete="off"></label>';

export const ACTIONS = {
  raise: {
    label: "Raise event",
    text: "Send an external event to this instance.",
    fields: `<label>Event name <input name="event" required autocomplete="off"></label>
      <label>Data (JSON) <textarea name="data" rows="6" spellcheck="false">null</textarea></label>
      <p class="json-state small" id="json-state">Valid JSON</p>`,
    run: (id, form) => call("POST", instanceUrl(id, `/raiseEvent/${encodeURIComponent(form.event.value.trim())}`),
      { json: JSON.stringify(JSON.parse(form.data.value)) }),
    validate: (form) => {
      if (!form.event.value.trim()) return "The event needs a name.";
      try { JSON.parse(form.data.value); } catch (exc) { return `The data is not valid JSON: ${exc.message}`; }
      return null;
    },
  },
  terminate: {
    label: "Terminate", danger: true, text: "Terminate this instance? It cannot be undone.", fields: REASON,
    run: (id, form) => call("POST", instanceUrl(id, `/terminate${query({ reason: form.reason.value })}`)),
  },
  suspend: {
    label: "Suspend", text: "Suspend this instance?", fields: REASON,
    run: (id, form) => call("POST", instanceUrl(id, `/suspend${query({ reason: form.reason.value })}`)),
  },
  resume: {
    label: "Resume", text: "Resume this instance?", fields: REASON,
    run: (id, form) => call("POST", instanceUrl(id, `/resume${query({ reason: form.reason.value })}`)),
  },
  rewind: {
    label: "Rewind", text: "Rewind this failed instance to retry its failed work?", fields: REASON,
    run: (id, form) => call("POST", instanceUrl(id, `/rewind${query({ reason: form.reason.value })}`)),
  },
  restart: {
    label: "Restart", text: "Start this orchestration again with its original input?",
    fields: '<label class="inline"><input type="checkbox" name="newId" checked> with a new instance ID</label>',
    run: (id, form) => call("POST", instanceUrl(id, `/restart${query({ restartWithNewInstanceId: String(form.newId.checked) })}`)),
  },
  purge: {
    label: "Purge", danger: true, text: "Delete this instance and its history? It cannot be undone.", fields: "",
    run: (id) => call("DELETE", instanceUrl(id)),
  },
};

export function confirmAction(name, instanceId, done) {
  const action = ACTIONS[name];
  const dialog = document.getElementById("action-dialog");
  const form = document.getElementById("action-form");
  const error = document.getElementById("action-error");
  const confirm = document.getElementById("action-confirm");
  document.getElementById("action-title").textContent = `${action.label}: ${instanceId}`;
  document.getElementById("action-text").textContent = action.text;
  document.getElementById("action-fields").innerHTML = action.fields;
  confirm.textContent = action.label;
  confirm.className = action.danger ? "danger" : "primary";
  error.hidden = true;
  const check = () => {
    const problem = action.validate ? action.validate(form) : null;
    const state = form.querySelector("#json-state");
    if (state) {
      state.textContent = problem || "Valid JSON";
      state.className = `json-state small ${problem ? "error" : "ok"}`;
    }
    confirm.disabled = Boolean(problem);
  };
  form.oninput = check;
  check();
  form.onsubmit = async (event) => {
    event.preventDefault();
    if (confirm.disabled) return;
    confirm.disabled = true;
    try {
      const result = await action.run(instanceId, form);
      dialog.close();
      done(name, result);
    } catch (exc) {
      error.innerHTML = `The API refused: ${esc(exc.message)}`;
      error.hidden = false;
    } finally {
      confirm.disabled = false;
    }
  };
  document.getElementById("action-cancel").onclick = () => dialog.close();
  dialog.showModal();
}
