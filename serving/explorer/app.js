// The interest explorer: a page over the public HTTP API, with the same key as any client.
// Every value from the API is written with textContent, never parsed as HTML.
"use strict";

const KEY_STORE = "interestgraph.apiKey";
const $ = (id) => document.getElementById(id);

/** An API error carrying the problem document's status and detail. */
class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  const key = localStorage.getItem(KEY_STORE);
  if (key) headers["X-API-Key"] = key;
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch (error) {
    throw new ApiError(0, `the service does not answer (${error.message})`);
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body.detail || response.statusText);
  return body;
}

/** The sentence a person should read for an error. */
function explainError(error, subject) {
  if (error.status === 401) {
    return "This service needs an API key: create one with `interestgraph serve --create-key` " +
      "and save it under “API key” above.";
  }
  if (error.status === 404) return `${subject} is not in the graph (${error.message}).`;
  if (error.status === 503) return `${error.message}. Try again in a moment.`;
  if (error.status === 422) return `That request is not valid: ${error.message}`;
  return `Something went wrong: ${error.message}`;
}

function setStatus(text, kind = "") {
  const status = $("status");
  status.textContent = text;
  status.className = `status ${kind}`;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function fill(list, rows, render, emptyText) {
  list.replaceChildren();
  if (!rows.length) {
    list.append(el("li", emptyText, "empty"));
    return;
  }
  rows.forEach((row) => list.append(render(row)));
}

function scoreBar(score, top) {
  const bar = el("span", null, "bar");
  const share = top > 0 ? Math.max(0.05, score / top) : 0.05;
  bar.style.width = `${Math.round(share * 5)}rem`;
  return bar;
}

function rankedItem(row, top, onClick) {
  const li = el("li", null, "clickable");
  li.append(el("span", row.name || row.id));
  if (row.name && row.name !== row.id) li.append(" ", el("span", `(${row.id})`, "meta"));
  li.append(scoreBar(row.score, top), el("span", ` ${row.score.toFixed(3)}`, "meta"));
  li.dataset.id = row.id;
  li.addEventListener("click", () => {
    document.querySelectorAll(".list li.selected").forEach((n) => n.classList.remove("selected"));
    li.classList.add("selected");
    onClick(row);
  });
  return li;
}

// -- explanation graph -------------------------------------------------------------------------
let cy = null;

function nodeKey(node) {
  return `${node.label}:${node.id}`;
}

/** The stand-in for a user the graph does not know: their paths start at what they picked. */
const NEW_USER = { id: "new user", label: "User", name: "new user", provisional: true };

/** Draw every path of ``explanations`` as one graph: the first node of each path is the user
 * (or what a new user picked), the last the recommendation. */
function drawExplanations(title, explanations) {
  $("explanation").hidden = false;
  $("explanation-title").textContent = title;
  fill($("sentences"), explanations, (e) => {
    const li = el("li", e.sentence);
    li.append(el("span", ` (${e.kind}, score ${e.score.toFixed(3)})`, "meta"));
    return li;
  }, "No path in the graph connects them.");
  const elements = new Map();
  for (const found of explanations) {
    const path = found.nodes[0].label === "User" ? found : {
      nodes: [NEW_USER, ...found.nodes],
      relationships: [{ type: "PICKED" }, ...found.relationships],
    };
    const last = path.nodes.length - 1;
    path.nodes.forEach((node, index) => {
      const key = nodeKey(node);
      let kind = node.label.toLowerCase();
      if (node.label === "User") kind = index === 0 ? "user" : "other-user";
      if (!elements.has(key) || kind === "user" || index === last) {
        elements.set(key, {
          group: "nodes",
          data: {
            id: key,
            nodeId: node.provisional ? null : node.id,
            label: node.label,
            name: node.name || node.id,
            kind,
            target: index === last ? "yes" : "no",
          },
        });
      }
    });
    path.relationships.forEach((rel, index) => {
      const a = nodeKey(path.nodes[index]);
      const b = nodeKey(path.nodes[index + 1]);
      const key = `${a}|${rel.type}|${b}`;
      if (!elements.has(key)) {
        elements.set(key, { group: "edges", data: { id: key, source: a, target: b, type: rel.type } });
      }
    });
  }
  const roots = [...elements.values()].filter((e) => e.data.kind === "user").map((e) => e.data.id);
  if (cy) cy.destroy();
  cy = cytoscape({
    container: $("graph"),
    elements: [...elements.values()],
    style: [
      { selector: "node", style: { label: "data(name)", "font-size": 10, "text-wrap": "ellipsis",
        "text-max-width": 120, "text-valign": "bottom", "text-margin-y": 4, width: 18, height: 18 } },
      { selector: 'node[kind = "user"]', style: { "background-color": "#2563eb", width: 26, height: 26 } },
      { selector: 'node[kind = "other-user"]', style: { "background-color": "#94a3b8" } },
      { selector: 'node[kind = "item"]', style: { "background-color": "#ea580c", shape: "round-rectangle" } },
      { selector: 'node[kind = "interest"]', style: { "background-color": "#16a34a", shape: "diamond" } },
      { selector: 'node[target = "yes"]', style: { "border-width": 3, "border-color": "#1e293b",
        width: 26, height: 26, "font-weight": "bold" } },
      { selector: "edge", style: { width: 1.5, "line-color": "#cbd5e1", "curve-style": "bezier",
        label: "data(type)", "font-size": 8, color: "#64748b", "text-rotation": "autorotate" } },
    ],
    layout: { name: "breadthfirst", directed: false, roots, spacingFactor: 1.1, animate: false },
  });
  window.explorer.cy = cy;
}

async function explainPair(user, target, row) {
  setStatus(`Finding the paths from ${user} to ${row.name || row.id}…`, "loading");
  try {
    const params = new URLSearchParams({ user, [target]: row.id, paths: "5" });
    const answer = await api(`/v1/explain?${params}`);
    drawExplanations(`Why ${row.name || row.id} for user ${user}`, answer.explanations);
    setStatus("");
  } catch (error) {
    setStatus(explainError(error, `User ${user} or ${row.id}`), "error");
  }
}

// -- a known user ------------------------------------------------------------------------------
async function lookUp(user) {
  const button = document.querySelector("#lookup button");
  button.disabled = true;
  setStatus(`Looking up user ${user}…`, "loading");
  $("explanation").hidden = true;
  try {
    const [interests, items] = await Promise.all([
      api(`/v1/users/${encodeURIComponent(user)}/interests?k=20`),
      api(`/v1/users/${encodeURIComponent(user)}/recommendations?target=item&k=10&explain=true&paths=5`),
    ]);
    $("user-view").hidden = false;
    $("user-title").textContent = `User ${user}`;
    fill($("known"), interests.known, (row) => {
      const li = el("li", row.name || row.id);
      li.append(el("span", ` ${[row.kind, row.source].filter(Boolean).join(" · ")}`, "meta"));
      return li;
    }, "No interests known yet: everything on the right is inferred.");
    const topInterest = interests.expanded.length ? interests.expanded[0].score : 0;
    fill($("expanded"), interests.expanded,
      (row) => rankedItem(row, topInterest, (r) => explainPair(user, "interest", r)),
      "The current run predicts no new interests for this user.");
    const topItem = items.recommendations.length ? items.recommendations[0].score : 0;
    fill($("items"), items.recommendations,
      (row) => rankedItem(row, topItem, (r) =>
        drawExplanations(`Why ${r.name || r.id} for user ${user}`, r.explanations || [])),
      "The current run recommends no items for this user.");
    setStatus("");
    history.replaceState(null, "", `#user=${encodeURIComponent(user)}`);
  } catch (error) {
    $("user-view").hidden = true;
    setStatus(explainError(error, `User ${user}`), "error");
  } finally {
    button.disabled = false;
  }
}

// -- a new user --------------------------------------------------------------------------------
function ids(text) {
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}

async function recommendNew(event) {
  event.preventDefault();
  const body = {
    items: ids($("new-items").value),
    interests: ids($("new-interests").value),
    text: $("new-text").value.trim() || null,
    target: $("new-target").value,
    k: 10,
    explain: true,
  };
  if (!body.items.length && !body.interests.length && !body.text) {
    setStatus("Give some items, interests or a sentence about the new user.", "error");
    return;
  }
  setStatus("Scoring the new user…", "loading");
  try {
    const answer = await api("/v1/recommendations", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const top = answer.recommendations.length ? answer.recommendations[0].score : 0;
    fill($("new-results"), answer.recommendations,
      (row) => rankedItem(row, top, (r) =>
        drawExplanations(`Why ${r.name || r.id} for the new user`, r.explanations || [])),
      "Nothing to recommend from that.");
    setStatus("");
  } catch (error) {
    setStatus(explainError(error, "An item or interest you gave"), "error");
  }
}

// -- the current run ---------------------------------------------------------------------------
function headline(summary) {
  if (!summary || !summary.targets) return "";
  return Object.entries(summary.targets).map(([target, t]) => {
    const test = t.test || {};
    const parts = [`${target.replace("_", "→")}: ${t.variant}`];
    if (test["recall@20"] !== undefined) parts.push(`test Recall@20 ${test["recall@20"].toFixed(4)}`);
    if (test["ndcg@20"] !== undefined) parts.push(`NDCG@20 ${test["ndcg@20"].toFixed(4)}`);
    if (t.best_baseline) {
      parts.push(`best baseline ${t.best_baseline.name} ${t.best_baseline["recall@20"].toFixed(4)}`);
    }
    return parts.join(", ");
  }).join(" · ");
}

async function loadRun() {
  const footer = $("run");
  try {
    const run = await api("/v1/runs/current");
    const summary = run.summary || {};
    const where = [summary.dataset, summary.split && `split ${summary.split}`,
      summary.refit && "refit on every edge"].filter(Boolean).join(", ");
    footer.textContent = `Run ${run.id} · model ${run.model || "?"} · ${run.created || ""}` +
      (where ? ` · ${where}` : "") + (headline(summary) ? ` · ${headline(summary)}` : "");
    footer.className = "";
    const suggestions = $("suggestions");
    suggestions.replaceChildren(run.sample_users.length ? "try" : "");
    run.sample_users.forEach((user) => {
      const link = el("a", user);
      link.addEventListener("click", () => {
        $("user-id").value = user;
        lookUp(user);
      });
      suggestions.append(link);
    });
  } catch (error) {
    footer.textContent = explainError(error, "The current run");
    footer.className = "error";
  }
}

// -- wiring ------------------------------------------------------------------------------------
window.explorer = { cy: null, lookUp };

document.addEventListener("DOMContentLoaded", () => {
  $("api-key").value = localStorage.getItem(KEY_STORE) || "";
  $("save-key").addEventListener("click", () => {
    localStorage.setItem(KEY_STORE, $("api-key").value.trim());
    loadRun();
  });
  $("lookup").addEventListener("submit", (event) => {
    event.preventDefault();
    const user = $("user-id").value.trim();
    if (user) lookUp(user);
  });
  $("new-user-form").addEventListener("submit", recommendNew);
  loadRun();
  const wanted = new URLSearchParams(location.hash.slice(1)).get("user");
  if (wanted) {
    $("user-id").value = wanted;
    lookUp(wanted);
  }
});
