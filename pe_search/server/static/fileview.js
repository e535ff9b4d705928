// The whole file of the selected hit, under its player (issue 23): its waveform drawn in a canvas
// from the server's peaks, and its sound events, one row per label, each span a button that plays
// from its start. Both share the file's time axis with the heat strip above them. Loaded before
// app.js, whose helpers ($, api, clock) it calls once the page runs.
"use strict";

const PEAK_BINS_MAX = 2000; // bins asked for: one per canvas pixel, up to this
const WAVE_INK = "#5d6470";
let selectedHit = null;

// Show the file view of `item` (and hide the previous one's); the data is fetched once per hit.
function selectHit(item) {
  if (selectedHit === item) return;
  if (selectedHit) {
    selectedHit.classList.remove("selected");
    selectedHit.removeAttribute("aria-current");
    $(".file-view", selectedHit).hidden = true;
  }
  selectedHit = item;
  if (!item) return;
  item.classList.add("selected");
  item.setAttribute("aria-current", "true");
  $(".file-view", item).hidden = false;
  item.fileView.open();
}

// The file view of one hit. `player` is its audio/video element, `seek(t)` plays from t.
function fileView(item, hit, player, seek) {
  const view = { peaks: null, events: null, opened: false, notes: [] };
  const duration = () => (view.events && view.events.duration) || (view.peaks && view.peaks.duration) || player.duration || hit.end;
  const note = (text) => {
    view.notes.push(text);
    $(".events-note", item).textContent = view.notes.join(" · ");
  };

  const drawWave = () => {
    const canvas = $(".wave", item);
    const width = Math.max(Math.round(canvas.clientWidth * (window.devicePixelRatio || 1)), 1);
    canvas.width = width;
    const pen = canvas.getContext("2d");
    pen.clearRect(0, 0, width, canvas.height);
    if (!view.peaks || !view.peaks.peaks.length) return;
    const peaks = view.peaks.peaks;
    const scale = (view.peaks.duration / peaks.length / duration()) * width; // pixels per bin
    const middle = canvas.height / 2;
    pen.fillStyle = WAVE_INK;
    peaks.forEach(([low, high], i) => {
      const top = Math.round(middle - Math.min(high, 1) * middle);
      const bottom = Math.round(middle - Math.max(low, -1) * middle);
      if (bottom <= top) return; // under half a pixel of swing: nothing to see
      const x = Math.floor(i * scale);
      pen.fillRect(x, top, Math.max(Math.ceil((i + 1) * scale) - x, 1), bottom - top);
    });
  };

  const drawEvents = () => {
    const rows = $(".events", item);
    rows.replaceChildren();
    if (!view.events) return;
    const total = duration();
    const byLabel = new Map(); // label -> its events, rows in order of each label's first event
    for (const event of view.events.events) {
      if (!byLabel.has(event.label)) byLabel.set(event.label, []);
      byLabel.get(event.label).push(event);
    }
    for (const [label, events] of byLabel) {
      const row = document.createElement("div");
      row.className = "event-row";
      row.dataset.label = label;
      const name = document.createElement("span");
      name.className = "event-label";
      name.textContent = label;
      name.setAttribute("aria-hidden", "true");
      row.append(name);
      for (const event of events) {
        const span = document.createElement("button");
        span.type = "button";
        span.className = "event";
        Object.assign(span.dataset, { label, start: event.start, end: event.end });
        span.style.left = `${(100 * event.start) / total}%`;
        span.style.width = `${(100 * (event.end - event.start)) / total}%`;
        const words = `${label}, ${clock(event.start)} to ${clock(event.end)}, ${percent(event.probability)}`;
        span.title = words;
        span.setAttribute("aria-label", `${words}: play from here`);
        span.addEventListener("click", (click) => {
          click.stopPropagation();
          seek(event.start);
        });
        row.append(span);
      }
      rows.append(row);
    }
  };

  view.move = () => {
    const total = duration();
    if (total) $(".file-playhead", item).style.left = `${(100 * Math.min(player.currentTime, total)) / total}%`;
  };
  view.draw = () => {
    if (!view.opened) return;
    drawWave();
    drawEvents();
    view.move();
  };
  view.open = () => {
    if (view.opened) return view.draw();
    view.opened = true;
    const canvas = $(".wave", item);
    const bins = Math.min(Math.max(Math.round(canvas.clientWidth * (window.devicePixelRatio || 1)), 1), PEAK_BINS_MAX);
    api(`/api/files/${hit.file_id}/peaks?bins=${bins}`)
      .then((peaks) => {
        view.peaks = peaks;
        item.dataset.wave = "done";
        view.draw();
      })
      .catch((error) => {
        item.dataset.wave = "error";
        note(`Waveform: ${error.message}`);
      });
    api(`/api/files/${hit.file_id}/transcript`)
      .then((found) => {
        showTranscript(item, hit, found.transcript, seek);
        item.dataset.transcript = found.transcript ? "done" : "none";
      })
      .catch((error) => {
        item.dataset.transcript = "error";
        note(`Transcript: ${error.message}`);
      });
    api(`/api/files/${hit.file_id}/events`)
      .then((events) => {
        view.events = events;
        if (!events.events.length) note("No sound event passes the threshold in this file.");
        item.dataset.events = "done";
        view.draw();
      })
      .catch((error) => {
        item.dataset.events = "error";
        note(`Events: ${error.message}`);
      });
    view.draw();
  };
  return view;
}

// ---------------------------------------------------------------- the transcript (issue 26)
const WORD_SLACK = 0.001; // s: word times are rounded in the API; a word on the hit's edge is in it

// The spoken words this hit matched, as [start, end] pairs: the hit's own words when the search
// gave them, else every word inside a transcript hit's range (it runs from its first matched
// word's start to its last one's end) unless the vectors placed the hit (it has a segment).
function matchedRanges(hit) {
  const why = hit.why || {};
  const words = Array.isArray(hit.words) ? hit.words : [];
  if (words.length) return words.map((w) => [w.start, w.end]);
  if (why.text_field === "transcript" && hit.segment_id == null) return [[hit.start, hit.end]];
  return [];
}

// The file's transcript under its player: a line per phrase, each word a button that plays from
// its start; the words the hit matched are marked.
function showTranscript(item, hit, transcript, seek) {
  const box = $(".transcript", item);
  box.replaceChildren();
  box.hidden = !transcript;
  if (!transcript) return;
  const ranges = matchedRanges(hit);
  const matched = (word) => ranges.some(([a, b]) => word.start >= a - WORD_SLACK && word.end <= b + WORD_SLACK);
  if (!transcript.complete) {
    const partial = document.createElement("p");
    partial.className = "transcript-note note";
    partial.textContent = `Partial transcript: ${transcript.reason || "reason not recorded"}`;
    box.append(partial);
  }
  for (const phrase of transcript.phrases) {
    const line = document.createElement("p");
    line.className = "phrase";
    const when = document.createElement("span");
    when.className = "phrase-time";
    when.textContent = clock(phrase.start);
    line.append(when);
    for (const word of phrase.words) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = matched(word) ? "word matched" : "word";
      button.textContent = word.text;
      Object.assign(button.dataset, { start: word.start, end: word.end });
      button.title = `${clock(word.start)}: play from here`;
      if (matched(word)) button.setAttribute("aria-current", "true");
      button.addEventListener("click", (click) => {
        click.stopPropagation();
        seek(word.start);
      });
      line.append(button, " ");
    }
    box.append(line);
  }
}
