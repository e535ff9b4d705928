// Tags on the page (issue 23): chips on every hit, the tag counts of the results (facets) and the
// library's tag browser. Every click sets one tag filter (the form's hidden #tag, kept in the URL);
// which files a tag includes (its narrower tags too) is the server's business.
// Loaded before app.js, whose helpers ($, api, runSearch, formState) it calls once the page runs.
"use strict";

const HIT_TAGS = 5; // chips shown on a hit: its file's best tags
const tagBrowser = { labels: [], children: new Map(), loaded: false };

function percent(probability) {
  return `${Math.round(probability * 100)} %`;
}

function filterByTag(name) {
  $("#tag").value = name;
  runSearch(formState(), true);
}

function clearTagFilter() {
  $("#tag").value = "";
  runSearch(formState(), true);
}

// The "Only files tagged X" line, and which tag buttons show as pressed.
function showTagFilter(name) {
  $("#tag-filter").hidden = !name;
  $("#tag-filter-name").textContent = name || "";
  for (const button of document.querySelectorAll("button[data-tag]")) {
    button.setAttribute("aria-pressed", String(button.dataset.tag === name));
  }
}

function tagButton(name, text, description) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "chip";
  button.dataset.tag = name;
  button.textContent = text;
  button.title = description;
  button.setAttribute("aria-label", description);
  button.setAttribute("aria-pressed", String(name === formState().tag));
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    filterByTag(name);
  });
  return button;
}

function listItem(child) {
  const item = document.createElement("li");
  item.append(child);
  return item;
}

// The chips of one hit: its file's best tags with their probabilities (none: the list stays empty).
function showHitTags(item, hit) {
  const chips = $(".hit-tags", item);
  for (const tag of (hit.tags || []).slice(0, HIT_TAGS)) {
    const text = `${tag.label} ${percent(tag.probability)}`;
    chips.append(listItem(tagButton(tag.label, text, `Only files tagged ${tag.label} (this one: ${percent(tag.probability)})`)));
  }
}

// The tag counts of the results beside them; hidden when the response has none.
function showFacets(facets) {
  const counts = (facets && facets.tags) || [];
  const list = $("#facet-list");
  list.replaceChildren(
    ...counts.map((facet) => listItem(tagButton(facet.label, `${facet.label} (${facet.count})`, `Only files tagged ${facet.label}: ${facet.count} of these results`))),
  );
  $("#facets").hidden = !counts.length;
}

function hideFacets() {
  $("#facet-list").replaceChildren();
  $("#facets").hidden = true;
}

// ---------------------------------------------------------------- the tag browser
async function loadTagBrowser() {
  const note = $("#tag-note");
  try {
    const data = await api("/api/tags");
    tagBrowser.labels = data.labels || [];
    tagBrowser.loaded = true;
    const known = new Set(tagBrowser.labels.map((label) => label.name));
    tagBrowser.children = new Map();
    for (const label of tagBrowser.labels) {
      for (const parent of label.parents || []) {
        if (!known.has(parent)) continue;
        if (!tagBrowser.children.has(parent)) tagBrowser.children.set(parent, []);
        tagBrowser.children.get(parent).push(label);
      }
    }
    const tagged = tagBrowser.labels.some((label) => label.count > 0);
    note.textContent = tagged
      ? `${data.vocabulary || "vocabulary"}: click a tag to show only files with it.`
      : "No file has a tag yet (pe-search tags --update computes them).";
    drawTagTree();
  } catch (error) {
    note.textContent = `Tags: ${error.message}`;
    document.body.dataset.tags = "error";
  }
}

function shownTags(labels) {
  const all = $("#tag-empty").checked;
  return labels
    .filter((label) => all || label.count > 0)
    .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
}

function drawTagTree() {
  const known = new Set(tagBrowser.labels.map((label) => label.name));
  const roots = tagBrowser.labels.filter((label) => !(label.parents || []).some((parent) => known.has(parent)));
  $("#tag-tree").replaceChildren(...shownTags(roots).map((label) => tagNode(label, new Set())));
  document.body.dataset.tags = "ready";
}

// One label: a button that filters by it and, when it has narrower tags, a toggle that shows them
// (built when first opened: the AudioSet tree has hundreds of nodes).
function tagNode(label, above) {
  const node = document.createElement("li");
  node.className = "tag-node";
  const path = new Set(above).add(label.name);
  const narrower = shownTags((tagBrowser.children.get(label.name) || []).filter((child) => !path.has(child.name)));
  if (narrower.length) {
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "twisty";
    toggle.textContent = "▸";
    toggle.setAttribute("aria-expanded", "false");
    toggle.setAttribute("aria-label", `Narrower tags of ${label.name}`);
    const list = document.createElement("ul");
    list.hidden = true;
    toggle.addEventListener("click", () => {
      if (!list.childElementCount) list.append(...narrower.map((child) => tagNode(child, path)));
      list.hidden = !list.hidden;
      toggle.setAttribute("aria-expanded", String(!list.hidden));
      toggle.textContent = list.hidden ? "▸" : "▾";
    });
    node.append(toggle, tagButton(label.name, `${label.name} (${label.count})`, `Only files tagged ${label.name}: ${label.count} in the library`), list);
  } else {
    const spacer = document.createElement("span");
    spacer.className = "twisty";
    node.append(spacer, tagButton(label.name, `${label.name} (${label.count})`, `Only files tagged ${label.name}: ${label.count} in the library`));
  }
  if (!label.taggable) node.classList.add("broad");
  return node;
}

function wireTags() {
  $("#tag-clear").addEventListener("click", clearTagFilter);
  $("#tag-empty").addEventListener("change", () => { if (tagBrowser.loaded) drawTagTree(); });
  loadTagBrowser();
}
