"""The viewer's collapse and expand: a scope (the layer that made the ops, in the raw to
expanded stages, or a fused kernel) drawn as one box over its nodes, the edges into and out of
it re-routed to the box's border and the edges inside it hidden; clicking the box expands it.

It runs in the page after graphc/viz/view_assets.py's script, through `window.graphcViewer`,
on the SVG graphviz drew: each stage's "scopes" ({scope: DOT ids}) say what to fold.
"""

COLLAPSE_SCRIPT = r"""
(function () {
  "use strict";
  var v = window.graphcViewer, SVG = "http://www.w3.org/2000/svg";
  var folded = {};  // stage name -> {scope: {x, y, w, h, ids, g}}

  function titleOf(g) {
    var t = g.querySelector("title");
    return t ? t.textContent : "";
  }
  // Each stage's nodes, clusters and edges by title, found once (a stage has thousands).
  function index(div) {
    if (div.graphcIndex) { return div.graphcIndex; }
    var found = { nodes: {}, clusters: {}, edges: [] };
    div.querySelectorAll("g.node").forEach(function (g) { found.nodes[titleOf(g)] = g; });
    div.querySelectorAll("g.cluster").forEach(function (g) { found.clusters[titleOf(g)] = g; });
    div.querySelectorAll("g.edge").forEach(function (e) {
      var path = e.querySelector("path"), arrow = e.querySelector("polygon");
      if (!path) { return; }
      found.edges.push({ e: e, ends: titleOf(e).split("->"), path: path, arrow: arrow,
                         d: path.getAttribute("d"),
                         points: arrow ? arrow.getAttribute("points") : null });
    });
    div.graphcIndex = found;
    return found;
  }
  // The scope's nodes, and a kernel's cluster (titled "cluster_" + the kernel's DOT id).
  function parts(div, ids) {
    var table = index(div), found = [];
    ids.forEach(function (id) {
      if (table.nodes[id]) { found.push(table.nodes[id]); }
      if (table.clusters["cluster_" + id]) { found.push(table.clusters["cluster_" + id]); }
    });
    return found;
  }
  // A kernel's box is its cluster; a layer's, whose ops can be spread over the whole stage
  // among other nodes, a label-sized box where its most central node was.
  function placeBox(elements, scope) {
    var clusters = elements.filter(function (g) { return g.classList.contains("cluster"); });
    if (clusters.length) { return bounds(clusters); }
    var boxes = elements.map(function (g) { return g.getBBox(); });
    var mx = 0, my = 0;
    boxes.forEach(function (b) { mx += b.x + b.width / 2; my += b.y + b.height / 2; });
    mx /= boxes.length; my /= boxes.length;
    var best = boxes.reduce(function (a, b) {
      var da = Math.hypot(a.x + a.width / 2 - mx, a.y + a.height / 2 - my);
      return Math.hypot(b.x + b.width / 2 - mx, b.y + b.height / 2 - my) < da ? b : a;
    });
    var w = Math.max(best.width, 16 + 7 * (scope.length + 6)), h = Math.max(best.height, 30);
    var cx = best.x + best.width / 2, cy = best.y + best.height / 2;
    return { x: cx - w / 2, y: cy - h / 2, w: w, h: h };
  }
  function bounds(elements) {
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    elements.forEach(function (g) {
      var b = g.getBBox();
      x0 = Math.min(x0, b.x); y0 = Math.min(y0, b.y);
      x1 = Math.max(x1, b.x + b.width); y1 = Math.max(y1, b.y + b.height);
    });
    return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }
  function drawBox(div, scope, box, count) {
    var g = document.createElementNS(SVG, "g"), rect = document.createElementNS(SVG, "rect");
    var text = document.createElementNS(SVG, "text");
    var title = document.createElementNS(SVG, "title");
    g.setAttribute("class", "scope-box");
    g.setAttribute("data-scope", scope);
    title.textContent = scope + ": " + count + " nodes (click to expand)";
    rect.setAttribute("x", box.x); rect.setAttribute("y", box.y);
    rect.setAttribute("width", box.w); rect.setAttribute("height", box.h);
    rect.setAttribute("rx", 6);
    text.setAttribute("x", box.x + box.w / 2); text.setAttribute("y", box.y + box.h / 2);
    text.setAttribute("text-anchor", "middle");
    text.textContent = scope + " (" + count + ")";
    [title, rect, text].forEach(function (e) { g.appendChild(e); });
    g.addEventListener("click", function (e) { e.stopPropagation(); expand(scope); });
    div.querySelector("svg g.graph").appendChild(g);
    return g;
  }
  function points(d) {
    var n = (d.match(/-?\d*\.?\d+(?:e-?\d+)?/g) || []).map(Number);
    return { start: [n[0], n[1]], end: [n[n.length - 2], n[n.length - 1]] };
  }
  // Where the line from the box's middle towards `to` leaves the box.
  function border(box, to) {
    var cx = box.x + box.w / 2, cy = box.y + box.h / 2, dx = to[0] - cx, dy = to[1] - cy;
    var t = Math.min(dx ? box.w / 2 / Math.abs(dx) : Infinity,
                     dy ? box.h / 2 / Math.abs(dy) : Infinity);
    return isFinite(t) && t < 1 ? [round(cx + dx * t), round(cy + dy * t)] : [cx, cy];
  }
  function round(x) { return Math.round(x * 100) / 100; }
  function middle(box) { return [box.x + box.w / 2, box.y + box.h / 2]; }
  function arrowAt(from, to) {
    var dx = to[0] - from[0], dy = to[1] - from[1], l = Math.hypot(dx, dy) || 1;
    var ux = dx / l, uy = dy / l, bx = to[0] - 8 * ux, by = to[1] - 8 * uy;
    return [to, [bx - 3.5 * uy, by + 3.5 * ux], [bx + 3.5 * uy, by - 3.5 * ux]]
      .map(function (p) { return p[0] + "," + p[1]; }).join(" ");
  }
  function reroute(div, name) {
    var owner = {}, boxes = folded[name] || {};
    Object.keys(boxes).forEach(function (s) {
      boxes[s].ids.forEach(function (id) { owner[id] = boxes[s]; });
    });
    index(div).edges.forEach(function (edge) {
      var a = owner[edge.ends[0]], b = owner[edge.ends[1]], arrow = edge.arrow;
      edge.e.style.display = a && a === b ? "none" : "";
      edge.e.classList.toggle("rerouted", !!(a || b) && a !== b);
      var p = points(edge.d), start = p.start, end = p.end;
      if (a) { start = border(a, b ? middle(b) : end); }
      if (b) { end = border(b, start); }
      edge.path.setAttribute("d", a || b ? "M" + start + "L" + end : edge.d);
      if (arrow) { arrow.setAttribute("points", b ? arrowAt(start, end) : edge.points); }
    });
  }
  // Where a scope's box goes (layout is only read here, so many boxes cost one layout).
  function plan(name, div, scope) {
    var ids = ((v.stageInfo(name) || {}).scopes || {})[scope];
    folded[name] = folded[name] || {};
    if (!ids || folded[name][scope]) { return null; }
    var elements = parts(div, ids), box = placeBox(elements, scope);
    box.ids = ids; box.elements = elements; box.scope = scope;
    return box;
  }
  function fold(name, div, box) {
    box.elements.forEach(function (g) { g.style.display = "none"; });
    box.g = drawBox(div, box.scope, box, box.ids.length);
    folded[name][box.scope] = box;
  }
  function collapseEach(scopes) {
    var here = v.current();
    var boxes = scopes.map(function (s) { return plan(here.name, here.div, s); })
      .filter(function (box) { return box; });
    boxes.forEach(function (box) { fold(here.name, here.div, box); });
    if (boxes.length) { reroute(here.div, here.name); }
    return boxes.length;
  }
  function expandEach(scopes) {
    var here = v.current(), done = 0;
    scopes.forEach(function (scope) {
      var box = (folded[here.name] || {})[scope];
      if (!box) { return; }
      box.elements.forEach(function (g) { g.style.display = ""; });
      box.g.remove();
      delete folded[here.name][scope];
      done += 1;
    });
    if (done) { reroute(here.div, here.name); }
    return done;
  }
  function scopes() {
    return Object.keys((v.stageInfo(v.current().name) || {}).scopes || {});
  }
  function expand(scope) { return expandEach([scope]) > 0; }
  v.collapse = function (scope) { return collapseEach([scope]) > 0; };
  v.expand = expand;
  v.collapseAll = function () { return collapseEach(scopes()); };
  v.expandAll = function () { return expandEach(scopes()); };
  document.getElementById("collapse-all").addEventListener("click", v.collapseAll);
  document.getElementById("expand-all").addEventListener("click", v.expandAll);
})();
"""
