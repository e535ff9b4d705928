// pe-search's page: search by words or by a dropped sound/clip, play every hit at its moment.
// Plain JavaScript, no build step. The URL holds the query (deep links; back/forward replay it).
"use strict";

const FIELDS = ["q", "target", "kind", "folder", "min_duration", "max_duration", "modified_after", "modified_before", "tag"];
const NUMBERS = new Set(["min_duration", "max_duration"]);
const TOKEN_KEY = "pe-search-token";
const RANGE_MIN_PIXELS = 6; // a press that moves less than this on a strip is a click (seek), more a range
const CLIP_TYPES = { wav: "audio/wav", flac: "audio/flac", mp3: "audio/mpeg", m4a: "audio/mp4", mp4: "video/mp4", mov: "video/quicktime", webm: "video/webm", mkv: "video/x-matroska", ogg: "audio/ogg" };
const SEEK_SLACK = 0.05; // s: how far before the hit's start a player may sit and still count as "at the start"

const $ = (selector, root = document) => root.querySelector(selector);
let inFlight = null; // AbortController of the request whose answer is awaited
let exportable = null; // the search request whose hits are shown (the Export menu exports it again)
let shown = null; // the JSON search whose hits are on the page: asked again when new files are indexed

// ---------------------------------------------------------------- talking to the API
class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function askToken() {
  const dialog = $("#token-dialog");
  $("#token").value = "";
  dialog.showModal();
  await new Promise((done) => dialog.addEventListener("close", done, { once: true }));
  const token = $("#token").value.trim();
  const answer = await fetch("/api/session", { method: "POST", headers: { Authorization: `Bearer ${token}` } });
  if (!answer.ok) throw new ApiError(answer.status, "wrong token");
  sessionStorage.setItem(TOKEN_KEY, token); // for fetch; media requests carry the cookie the server set
}

async function api(path, options = {}, retried = false) {
  const answer = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  if (answer.status === 401 && !retried) {
    await askToken();
    return api(path, options, true);
  }
  const body = await answer.json().catch(() => ({ error: `${answer.status} ${answer.statusText}` }));
  if (!answer.ok) throw new ApiError(answer.status, body.error || `request failed (${answer.status})`);
  return body;
}

// ---------------------------------------------------------------- the form and the URL
function formState() {
  const state = {};
  for (const name of FIELDS) {
    const field = name === "target" ? $('input[name="target"]:checked') : $(`#${name}`);
    state[name] = field ? field.value.trim() : "";
  }
  return state;
}

function setForm(params) {
  for (const name of FIELDS) {
    const value = params.get(name) || "";
    if (name === "target") {
      const radio = $(`input[name="target"][value="${CSS.escape(value)}"]`) || $('input[name="target"][value=""]');
      radio.checked = true;
    } else {
      $(`#${name}`).value = value;
    }
  }
  const filtered = FIELDS.some((name) => !["q", "target", "tag"].includes(name) && params.get(name));
  if (filtered) $("#filters").open = true;
  showTagFilter(params.get("tag") || "");
}

function toParams(state) {
  const params = new URLSearchParams();
  for (const name of FIELDS) if (state[name]) params.set(name, state[name]);
  return params;
}

function filterBody(state) {
  const body = {};
  if (state.kind) body.kind = [state.kind];
  if (state.folder) body.folder = state.folder;
  for (const name of NUMBERS) if (state[name] !== "") body[name] = Number(state[name]);
  if (state.modified_after) body.modified_after = state.modified_after;
  if (state.modified_before) body.modified_before = state.modified_before;
  if (state.tag) body.tag = state.tag; // the tag browser's filter (its narrower tags too: the server's)
  return body;
}

// ---------------------------------------------------------------- page states
function showState(kind, message) {
  const line = $("#state");
  line.className = `state ${kind}`;
  line.textContent = message;
  document.body.dataset.state = kind;
}

function clearResults() {
  $("#export").hidden = true;
  selectHit(null);
  hideFacets();
  for (const player of document.querySelectorAll("#results audio, #results video")) player.pause();
  $("#results").replaceChildren();
}

async function showWelcome() {
  clearResults();
  showState("empty", "Type what to look for and press Enter, or drop a sound or a clip on the page.");
  try {
    const status = await api("/api/status");
    const files = status.media.indexed || 0;
    if (!files) showState("empty", "The library is empty: index some media first (pe-search index FOLDER).");
    else showState("empty", `${files} files indexed. Type what to look for and press Enter, or drop a sound or a clip.`);
  } catch (error) {
    showState("error", error.message);
  }
}

// ---------------------------------------------------------------- searching
async function runSearch(state, push) {
  if (push) {
    const url = `/?${toParams(state)}`;
    if (url !== location.pathname + location.search) history.pushState(state, "", url);
  }
  showTagFilter(state.tag);
  if (!state.q && !state.tag) return showWelcome();
  const text = state.q || state.tag; // a tag alone: its name is the query, the filter does the rest
  const body = { q: text, target: state.target || null, ...filterBody(state) };
  exportable = body;
  await answer(text, "POST", "/api/search", { body: JSON.stringify(body), headers: { "Content-Type": "application/json" } }, null, state.tag);
}

async function runUpload(file) {
  exportable = null; // an uploaded example is not kept: its hits cannot be exported again
  $("#tag").value = ""; // uploads are not filtered by tag: the filter goes rather than seem to apply
  showTagFilter("");
  const state = formState();
  const form = new FormData();
  form.append("file", file, file.name || "clip");
  if (state.target) form.append("target", state.target);
  const filters = filterBody(state);
  for (const [name, value] of Object.entries(filters)) {
    if (name === "modified_after" || name === "modified_before") continue; // not a form field of uploads
    for (const item of [].concat(value)) form.append(name, String(item));
  }
  $("#drop-text").textContent = `Searching with ${file.name || "the dropped clip"}…`;
  await answer(null, "POST", "/api/search/upload", { body: form }, file.name || "the dropped clip");
  $("#drop-text").textContent = "Drop a sound or a clip here (or click) to search with it";
}

// "More like this": a range of a hit's file as the query (a stored segment, or any range: decoded)
async function runLike(hit, start, end) {
  const state = formState();
  const body = { like: { file_id: hit.file_id, start, end }, target: state.target || null, ...filterBody(state) };
  const example = `${hit.name} ${clock(start)}–${clock(end)}`;
  await answer(null, "POST", "/api/search", { body: JSON.stringify(body), headers: { "Content-Type": "application/json" } }, example, state.tag);
}

function clipUrl(hit, start = hit.start, end = hit.end) {
  return `/api/files/${hit.file_id}/clip?${new URLSearchParams({ start: start.toFixed(3), end: end.toFixed(3) })}`;
}

function clipName(hit, start = hit.start, end = hit.end) {
  const dot = hit.name.lastIndexOf(".");
  const stem = dot > 0 ? hit.name.slice(0, dot) : hit.name;
  const suffix = dot > 0 ? hit.name.slice(dot).toLowerCase() : "";
  return `${stem}-${start.toFixed(3)}-${end.toFixed(3)}${suffix}`;
}

async function answer(text, method, path, options, example = null, tag = "") {
  if (inFlight) inFlight.abort();
  const controller = new AbortController();
  inFlight = controller;
  shown = null;
  clearResults();
  showState("loading", example ? `Searching with ${example}…` : `Searching for “${text}”…`);
  try {
    const data = await api(path, { method, ...options, signal: controller.signal });
    if (controller !== inFlight) return;
    render(data.hits, text, example, data.facets, tag);
    if (typeof options.body === "string") shown = { text, method, path, body: options.body, example, tag, hits: hitSignature(data.hits) };
  } catch (error) {
    if (error.name === "AbortError") return;
    showState("error", error.message);
  } finally {
    if (controller === inFlight) inFlight = null;
  }
}

function render(hits, text, example, facets, tag) {
  clearResults();
  const what = (example ? `sounding or looking like ${example}` : `for “${text}”`) + (tag ? ` tagged ${tag}` : "");
  if (!hits.length) {
    showState("none", `No results ${what}. Try other words, another target, or fewer filters.`);
    return;
  }
  showState("done", `${hits.length} result${hits.length === 1 ? "" : "s"} ${what}`);
  const list = $("#results");
  hits.forEach((hit, index) => list.append(hitItem(hit, index + 1, text)));
  for (const item of list.children) item.drawTimeline?.();
  showFacets(facets);
  selectHit(list.firstElementChild);
  $("#export").hidden = !exportable;
}

function hitSignature(hits) {
  return hits.map((hit) => `${hit.file_id}:${hit.start}:${hit.end}`).join(" ");
}

// New files were indexed (indexing.js): ask the shown search again, quietly, and show the hits
// only when they changed and no other search took its place meanwhile.
async function refreshResults() {
  const asked = shown;
  if (!asked || inFlight) return;
  let data;
  try {
    data = await api(asked.path, { method: asked.method, body: asked.body, headers: { "Content-Type": "application/json" } });
  } catch {
    return;
  }
  if (asked !== shown || inFlight) return;
  const signature = hitSignature(data.hits);
  if (signature === asked.hits) return;
  asked.hits = signature;
  render(data.hits, asked.text, asked.example, data.facets, asked.tag);
}

// ---------------------------------------------------------------- export
async function downloadExport() {
  const format = $("#export-format").value;
  const body = { search: exportable, format, markers_only: $("#export-markers").checked };
  const answer = await fetch("/api/export", {
    method: "POST",
    body: JSON.stringify(body),
    headers: { ...authHeaders(), "Content-Type": "application/json" },
  });
  if (!answer.ok) {
    const problem = await answer.json().catch(() => ({ error: `${answer.status} ${answer.statusText}` }));
    showState("error", `export failed: ${problem.error}`);
    return;
  }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await answer.blob());
  link.download = `pe-search.${format}`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

// ---------------------------------------------------------------- one hit
function clock(seconds) {
  const whole = Math.max(seconds, 0);
  const minutes = Math.floor(whole / 60);
  return `${minutes}:${(whole - minutes * 60).toFixed(1).padStart(4, "0")}`;
}

function heatColour(p) {
  const low = [236, 239, 243], high = [224, 69, 43];
  const t = Math.min(Math.max(p, 0), 1);
  return `rgb(${low.map((l, i) => Math.round(l + (high[i] - l) * t)).join(",")})`;
}

function hitItem(hit, rank, text) {
  const item = $("#hit-template").content.firstElementChild.cloneNode(true);
  Object.assign(item.dataset, { fileId: hit.file_id, start: hit.start, end: hit.end, kind: hit.kind });
  $(".rank", item).textContent = `${rank}.`;
  $(".name", item).textContent = hit.name;
  $(".when", item).textContent = `${clock(hit.start)} – ${clock(hit.end)}`;
  $(".path", item).textContent = hit.path;
  showHitTags(item, hit);
  const probability = hit.probability;
  $(".prob-fill", item).style.width = probability == null ? "0" : `${(probability * 100).toFixed(1)}%`;
  $(".prob-text", item).textContent =
    probability == null ? `score ${hit.score.toFixed(3)} (no probability for same-kind matches)` : `${(probability * 100).toFixed(1)} %`;

  const player = document.createElement(hit.kind === "video" ? "video" : "audio");
  player.controls = true;
  player.preload = "metadata";
  if (hit.kind === "video") player.playsInline = true;
  if (hit.poster_url) player.poster = hit.poster_url;
  player.src = `${hit.media_url}#t=${hit.start.toFixed(3)},${hit.end.toFixed(3)}`; // media fragment: start..end
  let free = false; // after a click on the timeline, play on past the hit's end
  player.addEventListener("loadedmetadata", () => {
    if (Math.abs(player.currentTime - hit.start) > SEEK_SLACK) player.currentTime = hit.start;
    timeline.duration = timeline.duration || player.duration;
    item.drawTimeline();
  });
  player.addEventListener("play", () => {
    if (!free && (player.currentTime >= hit.end - SEEK_SLACK || player.currentTime < hit.start - SEEK_SLACK)) {
      player.currentTime = hit.start;
    }
    for (const other of document.querySelectorAll("#results audio, #results video")) if (other !== player) other.pause();
  });
  player.addEventListener("timeupdate", () => {
    if (!free && player.currentTime >= hit.end) player.pause();
    movePlayhead();
    item.fileView.move();
  });
  $(".player", item).append(player);

  // the moment as a file: a link, and a drag out of the page (Chromium's DownloadURL)
  const link = $(".clip-link", item);
  link.href = clipUrl(hit);
  link.download = clipName(hit);
  link.addEventListener("dragstart", (event) => {
    const suffix = hit.name.split(".").pop().toLowerCase();
    const type = CLIP_TYPES[suffix] || "application/octet-stream";
    const url = new URL(link.href, location.href).href;
    event.dataTransfer.setData("DownloadURL", `${type}:${link.download}:${url}`);
    event.dataTransfer.setData("text/uri-list", url);
    event.dataTransfer.effectAllowed = "copy";
    item.dataset.dragged = url;
  });
  $(".more-like", item).addEventListener("click", () => runLike(hit, hit.start, hit.end));

  const strip = $(".timeline", item);
  const timeline = { duration: null, curve: null };
  const movePlayhead = () => {
    if (timeline.duration) $(".playhead", item).style.left = `${(100 * player.currentTime) / timeline.duration}%`;
  };
  item.drawTimeline = () => {
    const duration = timeline.duration || hit.end;
    const canvas = $(".heat", item);
    const width = Math.max(canvas.clientWidth, 1) * (window.devicePixelRatio || 1);
    canvas.width = width;
    const pen = canvas.getContext("2d");
    pen.clearRect(0, 0, width, canvas.height);
    const curve = timeline.curve;
    if (curve) {
      curve.starts.forEach((start, i) => {
        pen.fillStyle = heatColour(curve.probabilities[i]);
        const x = Math.floor((start / duration) * width);
        const next = Math.ceil((curve.ends[i] / duration) * width); // whole pixels: no seams between frames
        pen.fillRect(x, 0, Math.max(next - x, 1), canvas.height);
      });
    }
    const marks = $(".marks", item);
    marks.replaceChildren();
    const mark = (kind, start, end, title) => {
      const box = document.createElement("div");
      box.className = `mark ${kind}`;
      box.style.left = `${(100 * start) / duration}%`;
      box.style.width = `${Math.max((100 * (end - start)) / duration, 0.4)}%`;
      box.title = title;
      marks.append(box);
    };
    mark("segment", hit.start, hit.end, "this hit");
    for (const span of curve ? curve.spans : []) mark("span", span.start, span.end, `located: ${(span.probability * 100).toFixed(0)} %`);
    if (hit.moment) mark("moment", hit.moment.start, hit.moment.end, "best moment");
    movePlayhead();
    item.fileView?.draw();
  };
  // a press on the strip: a click seeks there; a drag across it searches with that range
  const timeAt = (clientX) => {
    const box = strip.getBoundingClientRect();
    const duration = timeline.duration || hit.end;
    return Math.min(Math.max((clientX - box.left) / box.width, 0), 1) * duration;
  };
  let pressed = null;
  strip.addEventListener("pointerdown", (event) => {
    pressed = { x: event.clientX, at: timeAt(event.clientX) };
    strip.setPointerCapture?.(event.pointerId);
  });
  strip.addEventListener("pointermove", (event) => {
    if (!pressed || Math.abs(event.clientX - pressed.x) < RANGE_MIN_PIXELS) return;
    const box = strip.getBoundingClientRect();
    const [a, b] = [pressed.x, event.clientX].sort((x, y) => x - y);
    const band = $(".range", item);
    band.hidden = false;
    band.style.left = `${a - box.left}px`;
    band.style.width = `${b - a}px`;
  });
  strip.addEventListener("pointerup", (event) => {
    if (!pressed) return;
    const moved = Math.abs(event.clientX - pressed.x) >= RANGE_MIN_PIXELS;
    const [start, end] = [pressed.at, timeAt(event.clientX)].sort((x, y) => x - y);
    pressed = null;
    if (moved && end > start) {
      item.dataset.range = `${start.toFixed(3)}-${end.toFixed(3)}`;
      runLike(hit, start, end);
      return;
    }
    $(".range", item).hidden = true;
    seek(start);
  });
  // play on from `at`, past the hit's end (a click on the strip or on one of the file's events)
  const seek = (at) => {
    free = true;
    player.currentTime = at;
    movePlayhead();
    item.fileView.move();
    player.play().catch(() => {});
  };
  item.fileView = fileView(item, hit, player, seek);
  item.addEventListener("focusin", () => selectHit(item));
  item.addEventListener("click", () => selectHit(item));
  item.addEventListener("keydown", (event) => {
    if (event.key !== " " || event.target.closest("input, button, audio, video, select")) return;
    event.preventDefault();
    if (player.paused) player.play().catch(() => {});
    else player.pause();
  });
  if (text) {
    api(`/api/files/${hit.file_id}/curve?${new URLSearchParams({ q: text })}`)
      .then((curve) => {
        timeline.curve = curve;
        timeline.duration = curve.duration || timeline.duration;
        item.dataset.curve = curve.space || "none";
        item.drawTimeline();
      })
      .catch(() => { item.dataset.curve = "error"; });
  }
  return item;
}

// ---------------------------------------------------------------- wiring
function wire() {
  $("#export").addEventListener("submit", (event) => {
    event.preventDefault();
    if (exportable) downloadExport();
  });
  $("#search").addEventListener("submit", (event) => {
    event.preventDefault();
    runSearch(formState(), true);
  });
  for (const radio of document.querySelectorAll('input[name="target"]')) {
    radio.addEventListener("change", () => { if (formState().q) runSearch(formState(), true); });
  }
  window.addEventListener("popstate", () => {
    const params = new URLSearchParams(location.search);
    setForm(params);
    runSearch(formState(), false);
  });
  const zone = $("#dropzone");
  let depth = 0;
  document.addEventListener("dragenter", (event) => { event.preventDefault(); depth += 1; document.body.classList.add("dragging"); });
  document.addEventListener("dragover", (event) => { event.preventDefault(); });
  document.addEventListener("dragleave", () => { depth = Math.max(depth - 1, 0); if (!depth) document.body.classList.remove("dragging"); });
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    document.body.classList.remove("dragging");
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) runUpload(file);
  });
  $("#upload").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) runUpload(file);
    event.target.value = "";
  });
  zone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); $("#upload").click(); }
  });
  window.addEventListener("resize", () => { for (const item of $("#results").children) item.drawTimeline?.(); });
  wireTags();
}

wire();
const initial = new URLSearchParams(location.search);
setForm(initial);
history.replaceState(formState(), "", location.pathname + location.search);
runSearch(formState(), false);
