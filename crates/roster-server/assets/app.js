// roster's admin page: upload a file, show its errors or follow its import,
// show the results. Plain JavaScript against the page's own API; the session
// cookie signs every request, and the CSRF token goes with every change.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  row.appendChild(td);
}

function say(text, isError) {
  const message = $("message");
  message.textContent = text;
  message.className = isError ? "error" : "";
}

async function failure(response) {
  try {
    const body = await response.json();
    return body.message || response.statusText;
  } catch (_) {
    return response.statusText;
  }
}

// The validation report, as a table by row and column.
function showErrors(report) {
  const body = $("errors").querySelector("tbody");
  body.replaceChildren();
  for (const e of report.errors) {
    const row = document.createElement("tr");
    cell(row, e.row == null ? "file" : e.row);
    cell(row, e.column == null ? "(whole row or file)" : e.column);
    cell(row, e.code);
    cell(row, e.message);
    body.appendChild(row);
  }
  $("errors").hidden = false;
  say(`${report.errors.length} errors in ${report.rows} rows (${report.valid_rows} valid). Nothing was imported.`, true);
}

let following = null;

// Polls the import until it ends, then shows its results.
async function follow(id) {
  following = id;
  $("current").hidden = false;
  $("errors").hidden = true;
  $("results").hidden = true;
  $("progress").hidden = false;
  $("stop").disabled = false;
  let last = null;
  for (;;) {
    if (following !== id) return;
    const response = await fetch(`/api/imports/${id}`, { credentials: "same-origin" });
    if (!response.ok) {
      say(`Could not read the import: ${await failure(response)}`, true);
      return;
    }
    const s = await response.json();
    const now = Date.now();
    let rate = "";
    if (last && now > last.at && s.processed > last.processed) {
      rate = `, ${Math.round(((s.processed - last.processed) * 1000) / (now - last.at))} rows/s`;
    }
    last = { at: now, processed: s.processed };
    $("progress-bar").max = Math.max(s.total, 1);
    $("progress-bar").value = s.processed;
    $("progress-text").textContent =
      `${s.processed} of ${s.total} rows: ${s.created} created, ${s.failed} failed${rate}`;
    say(`Import ${s.id} is ${s.state.replaceAll("_", " ")}.` + passwords(s));
    if (!["queued", "running", "stopping"].includes(s.state)) {
      $("stop").disabled = true;
      await showResults(s);
      await followPasswords(id, s);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function passwords(s) {
  if (s.passwords === "none") return " Passwords: none sent.";
  const d = s.deliveries;
  let pace = "";
  if (d.per_second != null) {
    pace = `, ${Math.round(d.per_second)} a second`;
    if (d.eta_seconds != null) pace += `, about ${duration(d.eta_seconds)} left`;
  } else if (d.queued > 0) {
    pace = ", none going out now";
  }
  return ` Passwords: ${d.sent} sent, ${d.queued} queued, ${d.failed} failed${pace}.`;
}

function duration(seconds) {
  if (seconds < 60) return `${Math.max(seconds, 1)} s`;
  if (seconds < 3600) return `${Math.ceil(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

// After the import's rows: follows its passwords while any is queued.
async function followPasswords(id, s) {
  while (following === id && s.passwords !== "none" && s.deliveries.queued > 0) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const response = await fetch(`/api/imports/${id}`, { credentials: "same-origin" });
    if (!response.ok) return;
    s = await response.json();
    if (following === id) say(`Import ${s.id} is ${s.state.replaceAll("_", " ")}.` + passwords(s));
  }
}

async function showResults(s) {
  $("failed-rows").href = `/api/imports/${s.id}/failed-rows.csv`;
  $("results-csv").href = `/api/imports/${s.id}/results.csv`;
  const response = await fetch(`/api/imports/${s.id}/results.json`, { credentials: "same-origin" });
  if (!response.ok) {
    say(`Could not read the results: ${await failure(response)}`, true);
    return;
  }
  const results = await response.json();
  const body = $("results").querySelector("tbody");
  body.replaceChildren();
  for (const r of results) {
    const row = document.createElement("tr");
    row.dataset.status = r.status;
    cell(row, r.row);
    cell(row, r.status.replaceAll("_", " "));
    cell(row, r.email);
    cell(row, r.extension);
    cell(row, r.numbers.join("; "));
    cell(row, r.errors.map((e) => `${e.code}: ${e.message}`).join(" | "));
    cell(row, r.delivery ? r.delivery.message : "");
    body.appendChild(row);
  }
  filter();
  $("results").hidden = false;
}

function filter() {
  const only = $("failures-only").checked;
  for (const row of $("results").querySelectorAll("tbody tr")) {
    row.hidden = only && row.dataset.status === "created";
  }
}

async function upload(event) {
  event.preventDefault();
  const form = $("upload");
  const data = new FormData();
  const file = $("file").files[0];
  if (!file) return;
  data.append("file", file, file.name);
  data.append("voice", $("voice").checked ? "true" : "false");
  const choice = form.querySelector('input[name="passwords"]:checked').value;
  data.append("passwords", choice === "to" ? `to:${$("pw-address").value.trim()}` : choice);
  $("upload-button").disabled = true;
  $("current").hidden = false;
  $("errors").hidden = true;
  $("results").hidden = true;
  $("progress").hidden = true;
  say(`Checking ${file.name}…`);
  try {
    const response = await fetch("/api/imports", {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf },
    });
    if (response.status === 422) {
      showErrors(await response.json());
    } else if (response.status === 202) {
      const s = await response.json();
      follow(s.id);
    } else {
      say(`Not imported: ${await failure(response)}`, true);
    }
  } catch (e) {
    say(`Not imported: ${e}`, true);
  } finally {
    $("upload-button").disabled = false;
  }
}

async function stop() {
  if (!following) return;
  $("stop").disabled = true;
  const response = await fetch(`/api/imports/${following}/stop`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf },
  });
  if (!response.ok) say(`Could not stop: ${await failure(response)}`, true);
}

document.addEventListener("DOMContentLoaded", () => {
  $("upload").addEventListener("submit", upload);
  $("stop").addEventListener("click", stop);
  $("failures-only").addEventListener("change", filter);
  for (const button of document.querySelectorAll("button[data-import]")) {
    button.addEventListener("click", () => follow(button.dataset.import));
  }
});
