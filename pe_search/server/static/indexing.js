// The page's Index control (issue 25): shown when the server was started with folders it may index.
// It starts a run (POST /api/index), follows it live from the server-sent events of
// /api/index/events (EventSource reconnects by itself and resumes from the last event id), and as
// files are indexed asks the shown search again (app.js: refreshResults), so new files appear in
// the results without a reload. Uses app.js's `$`, `api` and `clock`.
"use strict";

const INDEX_EVENTS = ["started", "planned", "media", "file", "message", "done", "failed", "watching"];
const REFRESH_DEBOUNCE_MS = 300; // a burst of files asks the search again once

let refreshTimer = null;

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function describeRun(state) {
  if (!state) return "Nothing indexed from this page yet.";
  const failed = state.failed ? `, ${state.failed} failed` : "";
  const media = state.media_seconds ? ` · ${clock(state.media_seconds)} of media` : "";
  if (state.status === "failed") return `Indexing failed: ${state.error}`;
  if (state.status === "done" || state.status === "stopped") {
    const verb = state.status === "done" ? "Indexed" : "Stopped after";
    const unchanged = state.unchanged ? `, ${state.unchanged} unchanged` : "";
    return `${verb} ${plural(state.done, "new file")}${failed}${unchanged}${media}`;
  }
  if (state.planned == null) return "Indexing: looking for files…";
  const rate = state.rate ? ` at ${state.rate.toFixed(1)}× real time` : "";
  const eta = state.eta != null && state.done + state.failed < state.planned ? ` · about ${clock(state.eta)} left` : "";
  return `Indexing: ${state.done + state.failed} of ${plural(state.planned, "file")}${failed}${media}${rate}${eta}`;
}

function showRun(state) {
  const panel = $("#indexing");
  const running = Boolean(state && state.status === "running");
  panel.dataset.status = state ? state.status : "idle";
  panel.dataset.done = state ? state.done : 0;
  panel.dataset.failed = state ? state.failed : 0;
  $("#index-go").disabled = running;
  const bar = $("#index-bar");
  bar.hidden = !running;
  if (running && state.planned) {
    bar.max = state.planned;
    bar.value = state.done + state.failed;
  } else {
    bar.removeAttribute("value"); // indeterminate while the folders are walked
  }
  $("#index-state").textContent = describeRun(state);
}

function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    if (document.body.dataset.state === "empty") showWelcome(); // the count of indexed files
    else refreshResults();
  }, REFRESH_DEBOUNCE_MS);
}

function onIndexEvent(kind, state) {
  if (kind === "watching") return; // listening for changes: the last run's state stays shown
  showRun(state);
  if ((kind === "file" && !state.reason) || kind === "done") refreshSoon();
}

async function startIndexing() {
  $("#index-go").disabled = true;
  try {
    const status = await api("/api/index", { method: "POST", body: "{}", headers: { "Content-Type": "application/json" } });
    showRun(status.state);
  } catch (error) {
    $("#index-state").textContent = error.message;
    $("#index-go").disabled = false;
  }
}

async function setUpIndexing() {
  let status;
  try {
    status = await api("/api/index");
  } catch {
    return; // a server without indexing routes, or not signed in: no control
  }
  document.body.dataset.indexing = status.enabled ? "on" : "off";
  if (!status.enabled) return;
  const panel = $("#indexing");
  panel.hidden = false;
  const speech = status.transcribe ? ` · transcribing speech (${status.transcribe.split("/").pop()})` : "";
  $("#index-folders").textContent = `${status.watching ? "Watching " : ""}${status.folders.join(" · ")}${speech}`;
  $("#index-go").hidden = status.watching; // a watching server starts its runs itself
  $("#index-go").addEventListener("click", startIndexing);
  showRun(status.state);
  const events = new EventSource("/api/index/events"); // same origin: the token cookie goes along
  for (const kind of INDEX_EVENTS) {
    events.addEventListener(kind, (event) => onIndexEvent(kind, JSON.parse(event.data)));
  }
}

setUpIndexing();
