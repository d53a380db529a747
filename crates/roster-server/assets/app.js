// roster's admin page: upload a file, show its errors or follow its import,
// show the results, undo a finished import. Plain JavaScript against the
// page's own API; the session cookie signs every request, and the CSRF
// token goes with every change.
//
// Errors and results come a page at a time, filtered by the server: a
// million rows never reach the browser at once. One import is shown at a
// time: whatever was asked last wins, and an answer for another is dropped.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);
const PAGE = 100;
const ACTIVE = ["queued", "running", "stopping"];

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

function words(s) {
  return s.replaceAll("_", " ");
}

function number(n) {
  return n.toLocaleString("en-US");
}

async function get(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(await failure(response));
  return response;
}

async function failure(response) {
  try {
    const body = await response.json();
    return body.message || response.statusText;
  } catch (_) {
    return response.statusText;
  }
}

// What is shown: a new choice makes every earlier answer stale.
let shown = 0;
let following = null;
// The shown import's status as last read: what the undo button asks about.
let latest = null;

function show(what) {
  shown += 1;
  following = null;
  latest = null;
  $("current").hidden = false;
  $("errors").hidden = what !== "errors";
  $("plan").hidden = what !== "plan";
  $("progress").hidden = what !== "progress";
  $("results").hidden = what !== "results";
  return shown;
}

// Fills a select with options (value, text), keeping the first.
function options(select, list) {
  while (select.options.length > 1) select.remove(1);
  for (const [value, text] of list) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = text;
    select.appendChild(option);
  }
  select.value = "";
}

// A table read a page at a time: `url(after)` is the page after a row,
// `fill(items)` draws it. "Next" follows the last row; "First" goes back;
// `reload()` reads the page shown again, as its rows change.
function pager(name, draw) {
  const state = { url: null, after: 0, page: 1, loads: 0 };
  const load = async () => {
    const mine = shown;
    const load = ++state.loads;
    $(name).setAttribute("aria-busy", "true");
    $(`${name}-next`).disabled = true;
    $(`${name}-first`).disabled = state.page === 1;
    let items;
    let more;
    try {
      const response = await get(state.url(state.after));
      // The server says when there is more: a Link to the next page.
      more = response.headers.has("Link");
      items = await response.json();
    } catch (e) {
      if (mine === shown) say(`Could not read the ${name}: ${e.message}`, true);
      return;
    }
    // Another view, or a later page or filter, was asked meanwhile.
    if (mine !== shown || load !== state.loads) return;
    draw(items);
    $(name).removeAttribute("aria-busy");
    $(`${name}-next`).disabled = !more;
    $(`${name}-page`).textContent = items.length
      ? `Page ${state.page}: rows ${items[0].row} to ${items[items.length - 1].row}`
      : state.page === 1 ? "Nothing to show." : "No more.";
    state.last = items.length ? items[items.length - 1].row : state.after;
  };
  $(`${name}-next`).addEventListener("click", () => {
    state.after = state.last;
    state.page += 1;
    load();
  });
  $(`${name}-first`).addEventListener("click", () => {
    state.after = 0;
    state.page = 1;
    load();
  });
  const open = (url) => {
    state.url = url;
    state.after = 0;
    state.page = 1;
    return load();
  };
  open.reload = () => (state.url ? load() : Promise.resolve());
  return open;
}

// The report of a refused file: counts by code, a page of errors, the
// downloads, a filter by code.
let report = null;
const errorsPage = pager("errors", drawErrors);

function showErrors(body) {
  show("errors");
  report = body;
  const counts = body.error_counts.map((c) => `${c.code}${c.column ? ` in ${c.column}` : ""}: ${number(c.count)}`);
  $("errors-counts").textContent = counts.length ? `Errors by code: ${counts.join("; ")}.` : "";
  say(`${number(body.errors_total)} errors in ${number(body.rows)} rows (${number(body.valid_rows)} valid). Nothing was imported.`, true);
  const links = body.report;
  $("report-json").href = links ? links.json : "#";
  $("report-rows").hidden = !(links && links.csv);
  if (links && links.csv) $("report-rows").href = links.csv;
  const codes = new Map();
  for (const c of body.error_counts) codes.set(c.code, (codes.get(c.code) || 0) + c.count);
  options($("errors-filter"), [...codes].map(([code, n]) => [code, `${code} (${number(n)})`]));
  const fileErrors = body.errors.filter((e) => e.row == null);
  if (!links || fileErrors.length) {
    $("errors-filter").disabled = true;
    drawFileErrors(body.errors);
    return;
  }
  $("errors-filter").disabled = false;
  errorsPage(errorsUrl(""));
}

function drawErrors(errors) {
  const body = $("errors").querySelector("tbody");
  body.replaceChildren();
  for (const e of errors) {
    const row = document.createElement("tr");
    cell(row, e.row == null ? "file" : e.row);
    cell(row, e.column == null ? "(whole row or file)" : e.column);
    cell(row, e.code);
    cell(row, e.message);
    body.appendChild(row);
  }
}

// A file refused as a whole: its few errors came with the answer.
function drawFileErrors(errors) {
  drawErrors(errors);
  $("errors-next").disabled = true;
  $("errors-first").disabled = true;
  $("errors-page").textContent = "";
}

function errorsUrl(code) {
  const base = report.report.errors;
  return (after) => `${base}?limit=${PAGE}&after=${after}${code ? `&code=${encodeURIComponent(code)}` : ""}`;
}

// A dry run's plan: its counts, a page of rows with their changes, a
// filter by action, and the button that applies it.
let plan = null;
const planPage = pager("plan", (actions) => {
  const body = $("plan").querySelector("tbody");
  body.replaceChildren();
  for (const a of actions) {
    const row = document.createElement("tr");
    row.dataset.action = a.action;
    cell(row, a.row);
    cell(row, a.email);
    cell(row, a.action);
    cell(row, a.changes.map((c) => `${c.column}: '${c.from}' → '${c.to}'`).join("; "));
    body.appendChild(row);
  }
});

function showPlan(body) {
  show("plan");
  plan = body;
  const p = body.plan;
  $("plan-counts").textContent =
    `Plan: ${number(p.create)} to create, ${number(p.update)} to update, ${number(p.unchanged)} unchanged.`;
  say(`${number(body.rows)} rows, all valid. Nothing is written until you apply the plan.`);
  $("plan-json").href = body.report.json;
  $("apply").disabled = false;
  options($("plan-filter"), [["create", p.create], ["update", p.update], ["unchanged", p.unchanged]]
    .filter(([, n]) => n > 0)
    .map(([action, n]) => [action, `${action} (${number(n)})`]));
  planPage(planUrl(""));
}

function planUrl(action) {
  const base = plan.report.actions;
  return (after) => `${base}?limit=${PAGE}&after=${after}${action ? `&action=${action}` : ""}`;
}

async function apply() {
  if (!plan) return;
  $("apply").disabled = true;
  const mine = shown;
  const query = new URLSearchParams({ plan: plan.report.id, passwords: chosenPasswords() });
  try {
    const response = await fetch(`/api/imports?${query}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf },
    });
    if (mine !== shown) return;
    if (response.status === 202) {
      follow((await response.json()).id);
    } else {
      $("apply").disabled = false;
      say(`Not applied: ${await failure(response)}`, true);
    }
  } catch (e) {
    if (mine === shown) say(`Not applied: ${e}`, true);
  } finally {
    refreshRecent();
  }
}

function chosenPasswords() {
  const choice = $("upload").querySelector('input[name="passwords"]:checked').value;
  return choice === "to" ? `to:${$("pw-address").value.trim()}` : choice;
}

// Polls the import until it ends, then shows its results; follows its
// undo while one runs.
async function follow(id) {
  const mine = show("progress");
  following = id;
  $("stop").disabled = false;
  $("stop").textContent = "Stop the import";
  $("undo").hidden = true;
  $("undo").disabled = false;
  $("undo-status").hidden = true;
  let last = null;
  for (;;) {
    if (mine !== shown) return;
    let s;
    try {
      s = await (await get(`/api/imports/${id}`)).json();
    } catch (e) {
      if (mine === shown) say(`Could not read the import: ${e.message}`, true);
      return;
    }
    if (mine !== shown) return;
    latest = s;
    const now = Date.now();
    let rate = "";
    if (last && now > last.at && s.processed > last.processed) {
      rate = `, ${number(Math.round(((s.processed - last.processed) * 1000) / (now - last.at)))} rows/s`;
    }
    last = { at: now, processed: s.processed };
    $("progress-bar").max = Math.max(s.total, 1);
    $("progress-bar").value = s.processed + s.not_processed;
    $("progress-text").textContent = progress(s) + rate;
    say(`Import ${s.id} is ${words(s.state)}.` + passwords(s));
    refreshRecent();
    if (!ACTIVE.includes(s.state)) {
      await showResults(s, mine);
      if (undoing(s)) {
        await followUndo(s, mine);
        return;
      }
      $("stop").disabled = true;
      showUndo(s);
      await followPasswords(id, s, mine);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

// The counts as every view of an import gives them.
function progress(s) {
  const applied = s.mode && s.mode !== "create"
    ? `${number(s.created)} created, ${number(s.updated)} updated, ${number(s.unchanged)} unchanged`
    : `${number(s.created)} created`;
  let text = `${number(s.processed)} of ${number(s.total)} rows processed: ${applied}, ${number(s.failed)} failed`;
  if (s.not_processed > 0) text += `, ${number(s.not_processed)} not processed`;
  return text;
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
  return ` Passwords: ${number(d.sent)} sent, ${number(d.queued)} queued, ${number(d.failed)} failed${pace}.`;
}

function duration(seconds) {
  if (seconds < 60) return `${Math.max(seconds, 1)} s`;
  if (seconds < 3600) return `${Math.ceil(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

// After the import's rows: follows its passwords while any is queued.
// An undo asked meanwhile follows the import itself (and cancels the
// queued messages): this one then stops.
async function followPasswords(id, s, mine) {
  while (mine === shown && !latest.undo && s.passwords !== "none" && s.deliveries.queued > 0) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    try {
      s = await (await get(`/api/imports/${id}`)).json();
    } catch (_) {
      return;
    }
    if (mine !== shown || latest.undo) return;
    latest = s;
    say(`Import ${s.id} is ${words(s.state)}.` + passwords(s));
    showUndo(s);
  }
}

// The undo of a finished import: asked once the admin has read in numbers
// what it does, then followed like the import until it ends, when each
// row's outcome is in the results.
function undoing(s) {
  return Boolean(s.undo) && ACTIVE.includes(s.undo.state);
}

// The undo's state, and the button to ask for it (again, for an undo
// stopped or failed; a completed one is final).
function showUndo(s) {
  const u = s.undo;
  $("undo-status").hidden = !u;
  if (u) {
    $("undo-bar").max = Math.max(u.total, 1);
    $("undo-bar").value = u.undone + u.not_undone;
    $("undo-text").textContent = undoProgress(s);
  }
  const finished = !ACTIVE.includes(s.state);
  const again = Boolean(u) && ["stopped", "failed"].includes(u.state);
  $("undo").hidden = !(finished && (!u || again) && s.created + s.updated > 0);
  $("undo").textContent = again ? "Go on undoing this import" : "Undo this import";
}

function undoProgress(s) {
  const u = s.undo;
  let text = `Undo ${words(u.state)}: ${number(u.undone)} undone, ${number(u.not_undone)} not undone of ${number(u.total)} rows`;
  if (s.passwords !== "none" || u.passwords_cancelled > 0) {
    text += `, ${number(u.passwords_cancelled)} password messages cancelled`;
  }
  text += u.finished_at ? `; finished ${u.finished_at}` : `; asked ${u.asked_at}`;
  if (u.error) text += `. Failed: ${u.error}`;
  return `${text}.`;
}

// What the undo does, in the import's numbers: the confirmation's text.
function undoQuestion(s) {
  const u = s.undo;
  let text = u
    ? `Go on undoing import ${s.file_name}? ${number(u.undone + u.not_undone)} of its ${number(u.total)} rows were taken up already (${number(u.undone)} undone). In all, `
    : `Undo import ${s.file_name}? `;
  text += `${number(s.created)} users it created will be deleted (their extensions freed and numbers parked again`;
  if (s.passwords !== "none") {
    const d = s.deliveries;
    text += `; ${number(d.queued)} password messages not sent yet are cancelled, ${number(d.sent)} already sent cannot be unsent`;
  }
  text += `) and ${number(s.updated)} users it updated get their earlier details back. `;
  return `${text}Users changed since the import are left as they are.`;
}

async function undo() {
  const s = latest;
  if (!s || !following) return;
  const mine = shown;
  if (!window.confirm(undoQuestion(s))) return;
  if (mine !== shown) return;
  $("undo").disabled = true;
  try {
    const response = await fetch(`/api/imports/${s.id}/undo`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf },
    });
    if (mine !== shown) return;
    if (response.status === 202) {
      followUndo(await response.json(), mine);
    } else {
      $("undo").disabled = false;
      say(`Not undone: ${await failure(response)}`, true);
    }
  } catch (e) {
    if (mine === shown) {
      $("undo").disabled = false;
      say(`Not undone: ${e}`, true);
    }
  } finally {
    refreshRecent();
  }
}

// Polls the import while its undo is active; Stop stops the undo. The
// results page shown is read again as rows are taken up, and at the end:
// each row with its undo outcome.
async function followUndo(s, mine) {
  $("stop").disabled = false;
  $("stop").textContent = "Stop the undo";
  let taken = s.undo.undone + s.undo.not_undone;
  for (;;) {
    if (mine !== shown) return;
    latest = s;
    showUndo(s);
    $("undo").hidden = true;
    say(`Import ${s.id} is ${words(s.state)}; its undo is ${words(s.undo.state)}.`);
    if (!undoing(s)) break;
    if (s.undo.undone + s.undo.not_undone !== taken) {
      taken = s.undo.undone + s.undo.not_undone;
      resultsPage.reload();
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (mine !== shown) return;
    try {
      s = await (await get(`/api/imports/${s.id}`)).json();
    } catch (e) {
      if (mine === shown) say(`Could not read the import: ${e.message}`, true);
      return;
    }
  }
  $("stop").disabled = true;
  $("stop").textContent = "Stop the import";
  $("undo").disabled = false;
  showUndo(s);
  refreshRecent();
  await resultsPage.reload();
}

// The results of a finished import: counts by status and code, a page of
// rows, the downloads, a filter.
let resultsOf = null;
const resultsPage = pager("results", (results) => {
  const body = $("results").querySelector("tbody");
  body.replaceChildren();
  for (const r of results) {
    const row = document.createElement("tr");
    row.dataset.status = r.status;
    cell(row, r.row);
    cell(row, words(r.status));
    cell(row, r.email);
    cell(row, r.extension);
    cell(row, r.numbers.join("; "));
    cell(row, r.status === "not_processed"
      ? "not processed: the import was stopped before this row; import the failed-rows file to create it"
      : r.errors.map((e) => `${e.code}: ${e.message}`).join(" | "));
    cell(row, r.delivery ? r.delivery.message : "");
    if (r.undo) row.dataset.undo = r.undo.status;
    cell(row, r.undo ? words(r.undo.status) + (r.undo.message ? `: ${r.undo.message}` : "") : "");
    body.appendChild(row);
  }
});

async function showResults(s, mine) {
  $("progress").hidden = false;
  $("results").hidden = false;
  $("failed-rows").href = `/api/imports/${s.id}/failed-rows.csv`;
  $("results-csv").href = `/api/imports/${s.id}/results.csv`;
  $("results-json").href = `/api/imports/${s.id}/results.json`;
  let summary;
  try {
    summary = await (await get(`/api/imports/${s.id}/summary`)).json();
  } catch (e) {
    if (mine === shown) say(`Could not read the results: ${e.message}`, true);
    return;
  }
  if (mine !== shown) return;
  resultsOf = s.id;
  const st = summary.statuses;
  const codes = summary.error_counts.map((c) => `${c.code}: ${number(c.count)}`);
  const statuses = [["created", st.created], ["updated", st.updated], ["unchanged", st.unchanged],
    ["failed", st.failed], ["not_processed", st.not_processed]];
  $("results-counts").textContent =
    statuses.filter(([status, n]) => n > 0 || ["created", "failed", "not_processed"].includes(status))
      .map(([status, n]) => `${number(n)} ${words(status)}`).join(", ") +
    (codes.length ? `. Failures by code: ${codes.join("; ")}.` : ".");
  const list = [];
  for (const [status, n] of statuses) {
    if (n > 0) list.push([`status=${status}`, `${words(status)} (${number(n)})`]);
  }
  const byCode = new Map();
  for (const c of summary.error_counts) byCode.set(c.code, (byCode.get(c.code) || 0) + c.count);
  for (const [code, n] of byCode) list.push([`code=${code}`, `failed: ${code} (${number(n)})`]);
  options($("results-filter"), list);
  await resultsPage(resultsUrl(""));
}

function resultsUrl(filter) {
  const id = resultsOf;
  return (after) => `/api/imports/${id}/results?limit=${PAGE}&after=${after}${filter ? `&${filter}` : ""}`;
}

// The recent imports, and whether the account has one active.
let refreshing = false;
async function refreshRecent() {
  if (refreshing) return;
  refreshing = true;
  try {
    const imports = await (await get("/api/imports?limit=20")).json();
    const body = $("imports").querySelector("tbody");
    body.replaceChildren();
    for (const i of imports) {
      const row = document.createElement("tr");
      cell(row, i.file_name);
      cell(row, words(i.state) + (i.undo ? `, undo ${words(i.undo.state)}` : ""));
      cell(row, number(i.total));
      cell(row, number(i.created));
      cell(row, number(i.failed));
      cell(row, number(i.not_processed));
      cell(row, i.created_at);
      const td = document.createElement("td");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.import = i.id;
      button.textContent = "Open";
      const hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = ` ${i.file_name}`;
      button.appendChild(hidden);
      button.addEventListener("click", () => follow(i.id));
      td.appendChild(button);
      row.appendChild(td);
      body.appendChild(row);
    }
    if (!imports.length) {
      const row = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 8;
      td.textContent = "No imports yet.";
      row.appendChild(td);
      body.appendChild(row);
    }
    busy(imports.find((i) => ACTIVE.includes(i.state) || undoing(i)));
  } catch (_) {
    // The list stays as it was; the next poll tries again.
  } finally {
    refreshing = false;
  }
}

// Upload is off while the account has an import or an undo active: one at
// a time.
let watching = null;
function busy(active) {
  $("upload-button").disabled = Boolean(active);
  $("busy").hidden = !active;
  if (active) {
    const what = ACTIVE.includes(active.state)
      ? `is ${words(active.state)}`
      : `is being undone (${words(active.undo.state)})`;
    $("busy").textContent =
      `Import ${active.id} (${active.file_name}) ${what}: upload another file once it ends, or stop it.`;
    if (!watching) watching = setInterval(refreshRecent, 2000);
  } else if (watching) {
    clearInterval(watching);
    watching = null;
  }
}

async function upload(event) {
  event.preventDefault();
  const data = new FormData();
  const file = $("file").files[0];
  if (!file) return;
  data.append("file", file, file.name);
  data.append("voice", $("voice").checked ? "true" : "false");
  data.append("passwords", chosenPasswords());
  const mode = $("mode").value;
  data.append("mode", mode);
  // Rows that may update users are planned first: applied once seen.
  const planFirst = mode !== "create";
  if (planFirst) data.append("dry_run", "true");
  $("upload-button").disabled = true;
  const mine = show("none");
  say(`Checking ${file.name}…`);
  try {
    const response = await fetch("/api/imports", {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf },
    });
    if (mine !== shown) return;
    if (response.status === 422) {
      showErrors(await response.json());
    } else if (planFirst && response.status === 200) {
      showPlan(await response.json());
    } else if (response.status === 202) {
      const s = await response.json();
      follow(s.id);
    } else {
      say(`Not imported: ${await failure(response)}`, true);
    }
  } catch (e) {
    if (mine === shown) say(`Not imported: ${e}`, true);
  } finally {
    refreshRecent();
  }
}

// Stops the import, or its undo while one runs: the server knows which.
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
  $("undo").addEventListener("click", undo);
  $("apply").addEventListener("click", apply);
  $("plan-filter").addEventListener("change", () => planPage(planUrl($("plan-filter").value)));
  $("errors-filter").addEventListener("change", () => errorsPage(errorsUrl($("errors-filter").value)));
  $("results-filter").addEventListener("change", () => resultsPage(resultsUrl($("results-filter").value)));
  for (const button of document.querySelectorAll("button[data-import]")) {
    button.addEventListener("click", () => follow(button.dataset.import));
  }
  const active = document.querySelector("main").dataset.active;
  if (active) {
    follow(active);
    $("upload-button").disabled = true;
  }
});
