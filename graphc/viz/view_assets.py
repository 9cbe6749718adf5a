"""The viewer page's own style and script, inlined into every page `gc.view` writes (no network).

The script reads the JSON block `graphc-data` ({"stages": [...], "kernels": {...}, "ir": {...}});
each stage's SVG sits in a <div class="stage" data-stage=NAME>, each node a graphviz
<g class="node"> whose <title> is its DOT id, the key of its details in the stage's "nodes".
"""

STYLE = """
* { box-sizing: border-box; }
body { margin: 0; font: 13px Helvetica, Arial, sans-serif; display: flex; flex-direction: column;
       height: 100vh; color: #0f172a; }
header { display: flex; gap: 10px; align-items: center; padding: 6px 10px;
         border-bottom: 1px solid #cbd5e1; background: #f8fafc; flex-wrap: wrap; }
header h1 { font-size: 14px; margin: 0 10px 0 0; }
main { flex: 1; display: flex; min-height: 0; position: relative; }
#canvas { flex: 1; overflow: hidden; position: relative; cursor: grab; background: #fff; }
#canvas.dragging { cursor: grabbing; }
.stage { position: absolute; left: 0; top: 0; transform-origin: 0 0; }
.stage[hidden] { display: none; }
.note { padding: 12px; color: #92400e; background: #fffbeb; border: 1px solid #fcd34d;
        margin: 10px; max-width: 60em; }
#details { width: 360px; overflow: auto; border-left: 1px solid #cbd5e1; padding: 8px 10px;
           background: #f8fafc; }
#details table { border-collapse: collapse; width: 100%; }
#details td { border-bottom: 1px solid #e2e8f0; padding: 2px 4px; vertical-align: top;
              word-break: break-all; }
#details td:first-child { color: #475569; white-space: nowrap; word-break: normal; }
#details pre { font-size: 11px; overflow: auto; max-height: 50vh; background: #fff;
               border: 1px solid #e2e8f0; padding: 4px; }
g.node { cursor: pointer; }
g.node.hit > :is(polygon, ellipse, path) { stroke: #f59e0b; stroke-width: 4px; }
g.node.linked > :is(polygon, ellipse, path) { stroke: #7c3aed; stroke-width: 4px; }
g.node.selected > :is(polygon, ellipse, path) { stroke: #2563eb; stroke-width: 5px; }
.show-changes g.node.change-added > :is(polygon, ellipse, path) { stroke: #16a34a;
  stroke-width: 4px; stroke-dasharray: 6 3; }
.show-changes g.node.change-rewritten > :is(polygon, ellipse, path) { stroke: #0891b2;
  stroke-width: 4px; stroke-dasharray: 6 3; }
.show-changes g.node.change-removed > :is(polygon, ellipse, path) { stroke: #dc2626;
  stroke-width: 4px; stroke-dasharray: 2 3; }
.changes-key { font-size: 11px; color: #475569; }
g.scope-box { cursor: pointer; }
g.scope-box rect { fill: #ede9fe; stroke: #6d28d9; stroke-width: 2px; }
g.scope-box text { font: 12px Helvetica, Arial, sans-serif; fill: #4c1d95; }
button.link { margin: 2px; }
#overlay { position: absolute; left: 8px; bottom: 8px; max-height: 45%; max-width: 40em;
           overflow: auto; background: rgba(248, 250, 252, 0.95); border: 1px solid #cbd5e1;
           padding: 4px 8px; font-size: 12px; }
#overlay summary, #dashboard summary { font-weight: bold; cursor: pointer; }
#dashboard { position: absolute; right: 370px; top: 8px; max-height: 90%; overflow: auto;
             background: rgba(248, 250, 252, 0.95); border: 1px solid #cbd5e1;
             padding: 4px 8px; font-size: 12px; max-width: 400px; }
#dashboard svg.curve { display: block; margin: 4px 0; }
.legend { list-style: none; padding: 0; margin: 4px 0; display: flex; gap: 10px; flex-wrap: wrap; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
.ranking td, .ranking th { padding: 1px 6px; text-align: left; }
.ranking tr[data-stage] { cursor: pointer; }
.ranking tr[data-stage]:hover { background: #e2e8f0; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("graphc-data").textContent);
  var canvas = document.getElementById("canvas");
  var picker = document.getElementById("stage");
  var search = document.getElementById("search");
  var hitsLabel = document.getElementById("hits");
  var panel = document.getElementById("details");
  var view = { x: 0, y: 0, k: 1 };
  var current = null, hits = [], hitIndex = -1;

  function stageInfo(name) {
    return data.stages.filter(function (s) { return s.name === name; })[0];
  }
  function stageDiv(name) {
    return canvas.querySelector('.stage[data-stage="' + name + '"]');
  }
  function apply() {
    if (current) {
      var move = "translate(" + view.x + "px," + view.y + "px) ";
      current.style.transform = move + "scale(" + view.k + ")";
    }
  }
  function fit() {
    var svg = current && current.querySelector("svg");
    view = { x: 0, y: 0, k: 1 };
    if (svg) {
      var w = svg.width.baseVal.value || 1, h = svg.height.baseVal.value || 1;
      view.k = Math.min(1, canvas.clientWidth / w, canvas.clientHeight / h) || 1;
    }
    apply();
  }
  function centre(g) {
    var box = g.getBoundingClientRect();
    return { x: box.left + box.width / 2, y: box.top + box.height / 2 };
  }
  function idsByKey(name) {
    var nodes = (stageInfo(name) || {}).nodes || {}, table = {};
    Object.keys(nodes).forEach(function (id) {
      if (nodes[id].key !== undefined) { table[nodes[id].key] = id; }
    });
    return table;
  }
  // The node the view keeps in place when the stage changes: the selected one, else the
  // one nearest the middle of the screen, among the nodes the next stage has too.
  function anchorFor(name) {
    if (!current || current.hidden) { return null; }
    var target = idsByKey(name), frame = canvas.getBoundingClientRect(), best = null;
    var mid = { x: frame.left + frame.width / 2, y: frame.top + frame.height / 2 };
    current.querySelectorAll("g.node").forEach(function (g) {
      var info = details(picker.value, nodeId(g));
      if (!info || info.key === undefined || target[info.key] === undefined) { return; }
      var at = centre(g), d = Math.abs(at.x - mid.x) + Math.abs(at.y - mid.y);
      if (g.classList.contains("selected")) { d = -1; }
      if (!best || d < best.d) { best = { d: d, at: at, id: target[info.key],
                                         selected: d < 0 }; }
    });
    return best;
  }
  function placeAnchor(anchor) {
    var g = null;
    current.querySelectorAll("g.node").forEach(function (n) {
      if (nodeId(n) === anchor.id) { g = n; }
    });
    if (!g) { fit(); return; }
    apply();
    var at = centre(g);
    view.x += anchor.at.x - at.x; view.y += anchor.at.y - at.y;
    apply();
    if (anchor.selected) { select(g); }
  }
  function showStage(name) {
    var anchor = anchorFor(name);
    canvas.querySelectorAll(".stage").forEach(function (d) { d.hidden = true; });
    current = stageDiv(name);
    current.hidden = false;
    picker.value = name;
    if (anchor) { placeAnchor(anchor); } else { fit(); }
    markChanges();
    runSearch();
  }
  function markChanges() {
    current.querySelectorAll("g.node").forEach(function (g) {
      var info = details(picker.value, nodeId(g)) || {}, words = (info.change || "").split(" ");
      ["added", "rewritten", "removed"].forEach(function (word) {
        g.classList.toggle("change-" + word, words.indexOf(word) >= 0);
      });
    });
  }
  function nodeId(g) {
    var t = g.querySelector("title");
    return t ? t.textContent : "";
  }
  function details(name, id) {
    var info = stageInfo(name);
    return info && info.nodes ? info.nodes[id] : undefined;
  }
  function row(key, value) {
    var tr = document.createElement("tr");
    var a = document.createElement("td"), b = document.createElement("td");
    a.textContent = key; b.textContent = value;
    tr.appendChild(a); tr.appendChild(b);
    return tr;
  }
  function folded(title, text) {
    var d = document.createElement("details"), s = document.createElement("summary");
    var pre = document.createElement("pre");
    s.textContent = title; pre.textContent = text;
    d.appendChild(s); d.appendChild(pre);
    return d;
  }
  function linkButtons(links) {
    var box = document.createElement("div");
    Object.keys(links).forEach(function (stage) {
      var b = document.createElement("button");
      b.className = "link";
      b.textContent = "show its " + links[stage].length + " nodes in stage " + stage;
      b.addEventListener("click", function () { showLinked(stage, links[stage]); });
      box.appendChild(b);
    });
    return box;
  }
  function showDetails(id) {
    var info = details(picker.value, id);
    panel.innerHTML = "";
    var h = document.createElement("h3");
    h.textContent = id;
    panel.appendChild(h);
    if (!info) { panel.appendChild(row("", "no details for this node")); return; }
    var table = document.createElement("table");
    Object.keys(info).forEach(function (key) {
      if (key === "links" || key === "key" || info[key] === "" || info[key] === null) {
        return;
      }
      var value = Array.isArray(info[key]) ? info[key].join("; ") : String(info[key]);
      table.appendChild(row(key, value));
    });
    panel.appendChild(table);
    if (info.links) { panel.appendChild(linkButtons(info.links)); }
    if (info.scope && window.graphcViewer.collapse) {
      var fold = document.createElement("button");
      fold.className = "link";
      fold.textContent = "collapse " + info.scope + " to one box";
      fold.addEventListener("click", function () { window.graphcViewer.collapse(info.scope); });
      panel.appendChild(fold);
    }
    var kernel = info.kernel;
    if (kernel && data.kernels[kernel]) {
      panel.appendChild(folded("kernel " + kernel, JSON.stringify(data.kernels[kernel], null, 1)));
    }
    if (kernel) {
      var title = "LLVM IR of " + kernel + " (as emitted, before LLVM optimizes it)";
      panel.appendChild(folded(title, data.ir[kernel] || data.no_ir));
      var asm = "assembly of " + kernel + " (after LLVM's optimizations, as it runs; " +
        data.asm_source + ")";
      if (data.asm[kernel]) {
        panel.appendChild(folded(asm, data.asm[kernel]));
      } else if (data.ir[kernel]) {
        panel.appendChild(folded("assembly of " + kernel, data.asm_source));
      }
    }
  }
  function select(g) {
    canvas.querySelectorAll("g.node.selected").forEach(function (n) {
      n.classList.remove("selected");
    });
    g.classList.add("selected");
    showDetails(nodeId(g));
  }
  function centreOn(g) {
    view.k = Math.max(view.k, 0.8);  // a jump shows the node at a readable size
    apply();
    var box = g.getBoundingClientRect(), frame = canvas.getBoundingClientRect();
    view.x += frame.left + frame.width / 2 - (box.left + box.width / 2);
    view.y += frame.top + frame.height / 2 - (box.top + box.height / 2);
    apply();
  }
  function showLinked(stage, ids) {
    showStage(stage);
    var first = null;
    current.querySelectorAll("g.node").forEach(function (g) {
      var on = ids.indexOf(nodeId(g)) >= 0;
      g.classList.toggle("linked", on);
      if (on && !first) { first = g; }
    });
    if (first) { centreOn(first); }
  }
  function searchText(g) {
    var info = details(picker.value, nodeId(g)) || {};
    return [nodeId(g), info.op, info.name, info.shape, info.type,
            g.textContent].join(" ").toLowerCase();
  }
  function runSearch() {
    var q = search.value.trim().toLowerCase();
    hits = []; hitIndex = -1;
    if (!current) { return; }
    current.querySelectorAll("g.node").forEach(function (g) {
      var on = q !== "" && searchText(g).indexOf(q) >= 0;
      g.classList.toggle("hit", on);
      if (on) { hits.push(g); }
    });
    hitsLabel.textContent = q ? hits.length + " found" : "";
  }
  function nextHit() {
    if (!hits.length) { return; }
    hitIndex = (hitIndex + 1) % hits.length;
    centreOn(hits[hitIndex]);
    select(hits[hitIndex]);
    hitsLabel.textContent = (hitIndex + 1) + " of " + hits.length;
  }

  var drag = null;
  canvas.addEventListener("mousedown", function (e) {
    drag = { x: e.clientX, y: e.clientY, moved: false };
    canvas.classList.add("dragging");
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) { return; }
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 2) { drag.moved = true; }
    view.x += dx; view.y += dy; drag.x = e.clientX; drag.y = e.clientY;
    apply();
  });
  window.addEventListener("mouseup", function () {
    canvas.classList.remove("dragging");
    setTimeout(function () { drag = null; }, 0);
  });
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    var frame = canvas.getBoundingClientRect();
    var mx = e.clientX - frame.left, my = e.clientY - frame.top;
    var factor = Math.exp(-e.deltaY * 0.0015);
    view.x = mx - (mx - view.x) * factor;
    view.y = my - (my - view.y) * factor;
    view.k *= factor;
    apply();
  }, { passive: false });
  canvas.addEventListener("click", function (e) {
    if (drag && drag.moved) { return; }
    var g = e.target.closest ? e.target.closest("g.node") : null;
    if (g) { select(g); }
  });
  picker.addEventListener("change", function () { showStage(picker.value); });
  search.addEventListener("input", runSearch);
  search.addEventListener("keydown", function (e) { if (e.key === "Enter") { nextHit(); } });
  document.getElementById("fit").addEventListener("click", fit);
  document.querySelectorAll("#overlay tr[data-stage]").forEach(function (tr) {
    tr.addEventListener("click", function () {
      showLinked(tr.getAttribute("data-stage"), tr.getAttribute("data-ids").split(" "));
    });
  });
  document.getElementById("changes").addEventListener("change", function (e) {
    canvas.classList.toggle("show-changes", e.target.checked);
  });
  window.graphcViewer = { showStage: showStage, select: select, search: function (q) {
    search.value = q; runSearch(); nextHit(); return hits.length;
  }, data: data, stageInfo: stageInfo, nodeId: nodeId,
     current: function () { return { name: picker.value, div: current }; } };
  showStage(data.initial);
})();
"""
