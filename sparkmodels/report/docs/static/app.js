/* sparkmodels docs: a hand-written single-page app over window.SPARKMODELS_DOCS (data.js).
 * No network, no dependencies: hash routes, safe Markdown subset, a small SQL/Python highlighter and a
 * canvas graph that draws only what is in view (layout precomputed in Python at generate time).
 * Everything inserted as HTML goes through esc() first.
 */
(function () {
  "use strict";
  var D = window.SPARKMODELS_DOCS || { nodes: [], tests: [], project: "?" };
  var N = D.nodes, T = D.tests;
  var BY_ID = {};
  N.forEach(function (n, i) { n.i = i; BY_ID[n.id] = n; });
  var COLORS = { table: "#2f6fd6", view: "#23a47a", ephemeral: "#9aa3b1", incremental: "#7a4fd1",
    seed: "#d48a1b", source: "#c2437a" };
  var KIND_COLORS = { passthrough: "#8a94a6", renamed: "#23a47a", transformed: "#2f6fd6", aggregated: "#d48a1b" };
  var $ = function (id) { return document.getElementById(id); };
  var main = $("main");

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function color(n) { return COLORS[n.mat] || COLORS[n.type] || "#5b6577"; }
  function nodeHref(n) { return "#!/node/" + encodeURIComponent(n.id); }
  function colHref(n, c) { return "#!/column/" + encodeURIComponent(n.id) + "/" + encodeURIComponent(c); }
  function link(n) { return '<a href="' + nodeHref(n) + '"><span class="dot" style="background:' + color(n) + '"></span>' + esc(n.name) + "</a>"; }
  function label(n) { return n.type === "source" ? n.source + "." + n.name : n.name; }

  // -- Markdown: escape everything first, then a tiny subset (code, bold, italic, links, lists, paragraphs).
  function inline(t) {
    t = t.replace(/`([^`\n]+)`/g, "<code>$1</code>");
    t = t.replace(/\*\*([^*\n]+)\*\*/g, "<b>$1</b>");
    t = t.replace(/(^|[\s(])\*([^*\n]+)\*/g, "$1<i>$2</i>");
    return t.replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, function (m, txt, url) {
      // url is already HTML-escaped; only plain web links and in-page anchors become links.
      return /^(https?:\/\/|mailto:|#)/i.test(url) ? '<a href="' + url + '" rel="noopener noreferrer">' + txt + "</a>" : m;
    });
  }
  function md(src) {
    var blocks = esc(src || "").split(/\n\s*\n/), out = [];
    blocks.forEach(function (b) {
      var lines = b.split("\n");
      if (lines.every(function (l) { return /^\s*[-*] /.test(l); })) {
        out.push("<ul>" + lines.map(function (l) { return "<li>" + inline(l.replace(/^\s*[-*] /, "")) + "</li>"; }).join("") + "</ul>");
      } else if (b.trim()) {
        out.push("<p>" + inline(b.trim()) + "</p>");
      }
    });
    return out.join("");
  }

  // -- Highlighting: one regex pass; every token is escaped before it is wrapped.
  var SQLK = ("select from where group by order having limit with as on join inner left right full outer cross union all " +
    "distinct and or not in is null case when then else end cast over partition rows range between preceding following " +
    "current row true false asc desc like rlike exists interval insert into table view create replace lateral using " +
    "intersect except qualify window filter struct array map if").split(" ");
  var PYK = ("def return import from as class if elif else for while in not and or is None True False with try except " +
    "finally raise lambda yield pass break continue global nonlocal assert del async await").split(" ");
  var SQLRE = /(--[^\n]*|\/\*[\s\S]*?\*\/)|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`)|(\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|\{#[\s\S]*?#\})|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)(\s*\()?/g;
  var PYRE = /(#[^\n]*)|("""[\s\S]*?"""|'''[\s\S]*?'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(@[A-Za-z_][\w.]*)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)(\s*\()?/g;
  function hl(code, lang) {
    var re = lang === "python" ? PYRE : SQLRE, kw = lang === "python" ? PYK : SQLK, out = "", last = 0, m;
    re.lastIndex = 0;
    while ((m = re.exec(code || ""))) {
      out += esc(code.slice(last, m.index));
      if (m[1]) out += '<span class="c">' + esc(m[1]) + "</span>";
      else if (m[2]) out += '<span class="s">' + esc(m[2]) + "</span>";
      else if (m[3]) out += '<span class="j">' + esc(m[3]) + "</span>";
      else if (m[4]) out += '<span class="n">' + esc(m[4]) + "</span>";
      else if (m[5]) {
        var w = m[5], low = lang === "python" ? w : w.toLowerCase();
        out += kw.indexOf(low) >= 0 ? '<span class="k">' + esc(w) + "</span>" : m[6] ? '<span class="f">' + esc(w) + "</span>" : esc(w);
        if (m[6]) out += esc(m[6]);
      }
      last = re.lastIndex;
    }
    return out + esc((code || "").slice(last));
  }

  // -- Search over nodes, columns, tests and descriptions.
  var INDEX = null;
  function buildIndex() {
    INDEX = [];
    N.forEach(function (n) {
      INDEX.push({ n: n, key: n.name.toLowerCase(), text: (label(n) + " " + (n.desc || "") + " " + n.path).toLowerCase(), what: n.type });
      n.cols.forEach(function (c) {
        INDEX.push({ n: n, col: c.name, key: c.name.toLowerCase(), text: (c.name + " " + (c.desc || "")).toLowerCase(), what: "column" });
      });
    });
    T.forEach(function (t) {
      var n = N[t.node];
      if (n) INDEX.push({ n: n, test: t, key: t.name.toLowerCase(), text: (t.name + " " + t.test).toLowerCase(), what: "test" });
    });
  }
  function search(q, limit) {
    if (!INDEX) buildIndex();
    q = (q || "").trim().toLowerCase();
    if (!q) return [];
    var hits = [];
    for (var i = 0; i < INDEX.length; i++) {
      var e = INDEX[i], score = e.key === q ? 0 : e.key.indexOf(q) === 0 ? 1 : e.key.indexOf(q) >= 0 ? 2 : e.text.indexOf(q) >= 0 ? 4 : -1;
      if (score < 0) continue;
      if (e.what === "column") score += 1;
      if (e.what === "test") score += 2;
      hits.push([score, e]);
    }
    hits.sort(function (a, b) { return a[0] - b[0] || a[1].key.length - b[1].key.length; });
    return hits.slice(0, limit || 50).map(function (h) { return h[1]; });
  }
  function hitHtml(e) {
    var n = e.n;
    if (e.what === "column") return '<a class="hit" href="' + colHref(n, e.col) + '"><span class="dot" style="background:' + color(n) + '"></span>' + esc(n.name) + "." + "<b>" + esc(e.col) + '</b> <span class="muted">column</span></a>';
    if (e.what === "test") return '<a class="hit" href="' + nodeHref(n) + '"><span class="dot" style="background:#5b6577"></span>' + esc(e.test.name) + ' <span class="muted">test on ' + esc(n.name) + "</span></a>";
    return '<a class="hit" href="' + nodeHref(n) + '"><span class="dot" style="background:' + color(n) + '"></span><b>' + esc(label(n)) + '</b> <span class="muted">' + esc(n.mat) + " · " + esc(n.path) + "</span></a>";
  }

  // -- Sidebar: a tree by folder.
  function sidebar() {
    var root = { dirs: {}, items: [] };
    N.forEach(function (n) {
      var at = root;
      (n.folder ? n.folder.split("/") : []).forEach(function (p) { at = at.dirs[p] = at.dirs[p] || { dirs: {}, items: [] }; });
      at.items.push(n);
    });
    function render(t, path) {
      var h = "";
      Object.keys(t.dirs).sort().forEach(function (d) {
        var p = path ? path + "/" + d : d;
        h += '<details data-path="' + esc(p) + '"><summary>' + esc(d) + "</summary>" + render(t.dirs[d], p) + "</details>";
      });
      t.items.sort(function (a, b) { return a.name < b.name ? -1 : 1; }).forEach(function (n) {
        h += '<a id="side-' + n.i + '" href="' + nodeHref(n) + '" title="' + esc(n.path) + '"><span class="dot" style="background:' + color(n) + '"></span>' + esc(n.name) + "</a>";
      });
      return h;
    }
    $("sidebar").innerHTML = render(root, "");
  }
  function markSidebar(n) {
    var old = document.querySelector("#sidebar a.cur");
    if (old) old.className = "";
    if (!n) return;
    var a = $("side-" + n.i);
    if (!a) return;
    a.className = "cur";
    for (var el = a.parentNode; el && el.tagName === "DETAILS"; el = el.parentNode) el.open = true;
  }

  // -- Canvas graph: world coordinates, zoom/pan, click, and culling to the viewport.
  function Graph(canvas, model, onClick) {
    var ctx = canvas.getContext("2d"), view = { s: 1, x: 0, y: 0 }, dpr = window.devicePixelRatio || 1;
    var W = 0, H = 0, drag = null, self = this;
    this.model = model;
    function size() {
      W = canvas.clientWidth; H = canvas.clientHeight;
      canvas.width = Math.max(1, W * dpr); canvas.height = Math.max(1, H * dpr);
    }
    this.fit = function (focus) {
      size();
      var ns = model.nodes;
      if (!ns.length) return self.draw();
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      ns.forEach(function (n) { x0 = Math.min(x0, n.x); y0 = Math.min(y0, n.y); x1 = Math.max(x1, n.x + n.w); y1 = Math.max(y1, n.y + n.h); });
      var top = model.top || 0, s = Math.min((W - 40) / (x1 - x0 || 1), (H - top - 40) / (y1 - y0 || 1), 1.1);
      s = Math.max(s, 0.02);
      view.s = s;
      if (focus && s < 0.4) { // a huge graph: centre on the focused node at a legible zoom
        view.s = s = 0.6;
        view.x = W / 2 - (focus.x + focus.w / 2) * s; view.y = top + (H - top) / 2 - (focus.y + focus.h / 2) * s;
      } else {
        view.x = (W - (x1 - x0) * s) / 2 - x0 * s; view.y = top + (H - top - (y1 - y0) * s) / 2 - y0 * s;
      }
      self.draw();
    };
    this.draw = function () {
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, W, H);
      ctx.setTransform(dpr * view.s, 0, 0, dpr * view.s, dpr * view.x, dpr * view.y);
      var vx0 = -view.x / view.s, vy0 = -view.y / view.s, vx1 = vx0 + W / view.s, vy1 = vy0 + H / view.s;
      var ns = model.nodes, drawn = 0, labels = [], detailed = view.s * 28 >= 9;
      function visible(n) { return n.x + n.w >= vx0 && n.x <= vx1 && n.y + n.h >= vy0 && n.y <= vy1; }
      // edges: drawn when their bounding box meets the viewport
      var byColor = {};
      model.edges.forEach(function (e) {
        var a = ns[e[0]], b = ns[e[1]];
        var ex0 = Math.min(a.x + a.w, b.x), ex1 = Math.max(a.x + a.w, b.x), ey0 = Math.min(a.y, b.y), ey1 = Math.max(a.y, b.y) + b.h;
        if (ex1 < vx0 || ex0 > vx1 || ey1 < vy0 || ey0 > vy1) return;
        var c = e[2] || (model.hot && (model.hot[e[0]] && model.hot[e[1]]) ? "#3b4a66" : "#97a3b9");
        (byColor[c] = byColor[c] || []).push(e);
      });
      ctx.lineWidth = Math.max(1 / view.s, model.edgeWidth || 1.4);
      Object.keys(byColor).forEach(function (c) {
        ctx.strokeStyle = c; ctx.beginPath();
        byColor[c].forEach(function (e) {
          var a = ns[e[0]], b = ns[e[1]], ax = a.x + a.w, ay = a.y + a.h / 2, bx = b.x, by = b.y + b.h / 2;
          ctx.moveTo(ax, ay);
          if (detailed) { var mx = (ax + bx) / 2; ctx.bezierCurveTo(mx, ay, mx, by, bx, by); } else ctx.lineTo(bx, by);
        });
        ctx.stroke();
      });
      ctx.font = "12px system-ui, sans-serif"; ctx.textBaseline = "middle";
      ns.forEach(function (n) {
        if (!visible(n)) return;
        drawn++;
        ctx.fillStyle = n.dim ? "#d5dae3" : n.color;
        if (detailed) { roundRect(ctx, n.x, n.y, n.w, n.h, 6); ctx.fill(); } else ctx.fillRect(n.x, n.y, n.w, n.h);
        if (n.focus) { ctx.lineWidth = 3 / Math.max(view.s, 0.5); ctx.strokeStyle = "#15203a"; roundRect(ctx, n.x - 3, n.y - 3, n.w + 6, n.h + 6, 8); ctx.stroke(); }
        if (detailed) {
          ctx.fillStyle = n.dim ? "#5b6577" : "#fff";
          ctx.fillText(clip(ctx, n.label, n.w - 14), n.x + 8, n.y + n.h / 2);
          if (labels.length < 400) labels.push(n.label);
        }
      });
      canvas.setAttribute("data-drawn", drawn);
      canvas.setAttribute("data-total", ns.length);
      canvas.setAttribute("data-labels", labels.join(","));
      canvas.setAttribute("data-scale", view.s.toFixed(3));
    };
    function hit(px, py) {
      var x = (px - view.x) / view.s, y = (py - view.y) / view.s, ns = model.nodes;
      for (var i = ns.length - 1; i >= 0; i--) { var n = ns[i]; if (x >= n.x && x <= n.x + n.w && y >= n.y && y <= n.y + n.h) return n; }
      return null;
    }
    canvas.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      var r = canvas.getBoundingClientRect(), px = ev.clientX - r.left, py = ev.clientY - r.top;
      var k = Math.exp(-ev.deltaY * 0.0015), s = Math.min(3, Math.max(0.02, view.s * k));
      view.x = px - (px - view.x) * (s / view.s); view.y = py - (py - view.y) * (s / view.s); view.s = s;
      self.draw();
    }, { passive: false });
    canvas.addEventListener("pointerdown", function (ev) {
      drag = { x: ev.clientX, y: ev.clientY, vx: view.x, vy: view.y, moved: false };
      canvas.setPointerCapture(ev.pointerId); canvas.classList.add("drag");
    });
    canvas.addEventListener("pointermove", function (ev) {
      if (!drag) { var r0 = canvas.getBoundingClientRect(), h0 = hit(ev.clientX - r0.left, ev.clientY - r0.top); canvas.title = h0 ? h0.title || h0.label : ""; canvas.style.cursor = h0 ? "pointer" : ""; return; }
      var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
      view.x = drag.vx + dx; view.y = drag.vy + dy; self.draw();
    });
    canvas.addEventListener("pointerup", function (ev) {
      var d = drag; drag = null; canvas.classList.remove("drag");
      if (d && !d.moved) { var r = canvas.getBoundingClientRect(), n = hit(ev.clientX - r.left, ev.clientY - r.top); if (n && onClick) onClick(n); }
    });
    var onResize = function () { size(); self.draw(); };
    if (window.ResizeObserver) new ResizeObserver(onResize).observe(canvas); else window.addEventListener("resize", onResize);
    size();
  }
  function roundRect(ctx, x, y, w, h, r) {
    ctx.beginPath(); ctx.moveTo(x + r, y); ctx.arcTo(x + w, y, x + w, y + h, r); ctx.arcTo(x + w, y + h, x, y + h, r);
    ctx.arcTo(x, y + h, x, y, r); ctx.arcTo(x, y, x + w, y, r); ctx.closePath();
  }
  function clip(ctx, text, width) {
    if (ctx.measureText(text).width <= width) return text;
    var lo = 0, hi = text.length;
    while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (ctx.measureText(text.slice(0, mid) + "…").width <= width) lo = mid; else hi = mid - 1; }
    return text.slice(0, lo) + "…";
  }

  // -- Graph models: the whole project (precomputed layout) or a neighbourhood with its own compact layout.
  function around(start, up, down) {
    var dist = {}; dist[start.i] = 0;
    [[up, "deps", -1], [down, "kids", 1]].forEach(function (dir) {
      var frontier = [start.i];
      for (var d = 1; d <= dir[0] && frontier.length; d++) {
        var next = [];
        frontier.forEach(function (i) { N[i][dir[1]].forEach(function (j) { if (!(j in dist)) { dist[j] = d * dir[2]; next.push(j); } }); });
        frontier = next;
      }
    });
    return Object.keys(dist).map(Number);
  }
  function compact(items, xOf, yOf, w, h) { // items grouped by xOf (layer) in yOf order, packed columns
    var layers = {}, out = [];
    items.forEach(function (it) { (layers[xOf(it)] = layers[xOf(it)] || []).push(it); });
    var keys = Object.keys(layers).map(Number).sort(function (a, b) { return a - b; });
    var tallest = Math.max.apply(null, keys.map(function (k) { return layers[k].length; }));
    keys.forEach(function (k, col) {
      var row = layers[k].sort(function (a, b) { return yOf(a) - yOf(b); });
      var off = (tallest - row.length) * (h + 16) / 2;
      row.forEach(function (it, r) { it.x = col * (w + 90); it.y = off + r * (h + 16); it.w = w; it.h = h; out.push(it); });
    });
    return out;
  }
  function nodeModel(focus, up, down) {
    var idx = focus ? around(focus, up, down) : N.map(function (n) { return n.i; });
    var at = {}, items = idx.map(function (i) { var n = N[i]; return { n: n, label: label(n), title: label(n) + " (" + n.mat + ")", color: color(n), focus: focus && n === focus }; });
    if (focus) compact(items, function (it) { return it.n.layer; }, function (it) { return it.n.y; }, 200, 28);
    else items.forEach(function (it) { it.x = it.n.x; it.y = it.n.y; it.w = 200; it.h = 28; });
    items.forEach(function (it, k) { at[it.n.i] = k; });
    var edges = [];
    items.forEach(function (it, k) { it.n.deps.forEach(function (d) { if (d in at) edges.push([at[d], k]); }); });
    return { nodes: items, edges: edges, top: 56 };
  }
  var KIDS = null; // (node index, lower column) -> [[child index, column, kind]]
  function colKids() {
    if (KIDS) return KIDS;
    KIDS = {};
    N.forEach(function (n) {
      Object.keys(n.lineage || {}).forEach(function (c) {
        n.lineage[c].forEach(function (e) { var k = e[0] + "|" + String(e[1]).toLowerCase(); (KIDS[k] = KIDS[k] || []).push([n.i, c, e[2]]); });
      });
    });
    return KIDS;
  }
  function upCols(n, c) {
    var lin = n.lineage || {}, key = Object.keys(lin).filter(function (k) { return k.toLowerCase() === c.toLowerCase(); })[0];
    return key ? lin[key] : [];
  }
  function columnModel(focus, col, up, down) {
    var items = {}, edges = [];
    function add(i, c) {
      var k = i + "|" + c.toLowerCase();
      if (!items[k]) items[k] = { n: N[i], col: c, label: label(N[i]) + "." + c, title: label(N[i]) + "." + c, color: color(N[i]), focus: N[i] === focus && c.toLowerCase() === col.toLowerCase() };
      return k;
    }
    var start = add(focus.i, col);
    [[up, true], [down, false]].forEach(function (dir) {
      var frontier = [[focus.i, col]], seen = {};
      for (var d = 0; d < dir[0] && frontier.length; d++) {
        var next = [];
        frontier.forEach(function (f) {
          var here = add(f[0], f[1]);
          var nexts = dir[1] ? upCols(N[f[0]], f[1]) : (colKids()[f[0] + "|" + f[1].toLowerCase()] || []);
          nexts.forEach(function (e) {
            if (e[0] < 0) return;
            var there = add(e[0], e[1]);
            edges.push(dir[1] ? [there, here, e[2]] : [here, there, e[2]]);
            if (!seen[there]) { seen[there] = 1; next.push([e[0], e[1]]); }
          });
        });
        frontier = next;
      }
    });
    var keys = Object.keys(items), list = compact(keys.map(function (k) { return items[k]; }), function (it) { return it.n.layer; },
      function (it) { return it.n.y * 1000 + (it.n.cols.findIndex ? it.n.cols.findIndex(function (c) { return c.name.toLowerCase() === it.col.toLowerCase(); }) : 0); }, 290, 26);
    var pos = {}; keys.forEach(function (k) { pos[k] = list.indexOf(items[k]); });
    var uniq = {}, es = [];
    edges.forEach(function (e) { var key = e[0] + ">" + e[1]; if (!uniq[key]) { uniq[key] = 1; es.push([pos[e[0]], pos[e[1]], KIND_COLORS[e[2]] || "#8a94a6"]); } });
    return { nodes: list, edges: es, top: 56, start: items[start], edgeWidth: 2.2 };
  }

  // -- Pages.
  function parse() {
    var h = location.hash.replace(/^#!?\/?/, ""), q = {}, qi = h.indexOf("?");
    if (qi >= 0) { h.slice(qi + 1).split("&").forEach(function (kv) { var p = kv.split("="); q[decodeURIComponent(p[0])] = decodeURIComponent((p[1] || "").replace(/\+/g, " ")); }); h = h.slice(0, qi); }
    return { parts: h.split("/").map(decodeURIComponent), q: q };
  }
  function home() {
    var counts = {};
    N.forEach(function (n) { counts[n.type] = (counts[n.type] || 0) + 1; });
    var runs = N.filter(function (n) { return n.run; });
    var h = "<h1>" + esc(D.project) + '</h1><p class="muted">Generated ' + esc(D.generated_at) + (D.has_catalog ? " with Spark " + esc(D.spark_version || "") + " schemas" : " from the manifest (no catalog)") + "</p>";
    h += '<div class="cards">' + ["model", "source", "seed"].map(function (t) { return '<div class="card"><b>' + (counts[t] || 0) + "</b>" + t + "s</div>"; }).join("") + '<div class="card"><b>' + T.length + "</b>tests</div></div>";
    h += '<p><a href="#!/graph">Open the lineage graph of the whole project →</a></p>';
    if (runs.length) {
      h += "<h2>Last run</h2><table><tr><th>Node</th><th>Status</th><th>Time</th><th>Message</th></tr>" + runs.slice(0, 200).map(function (n) {
        return "<tr><td>" + link(n) + '</td><td><span class="badge st-' + esc(n.run.status) + '">' + esc(n.run.status) + "</span></td><td>" + esc(n.run.time != null ? n.run.time.toFixed(2) + " s" : "") + "</td><td>" + esc(n.run.message || "") + "</td></tr>";
      }).join("") + "</table>";
    }
    main.className = ""; main.innerHTML = h; markSidebar(null);
  }
  function searchPage(q) {
    var hits = search(q, 200);
    $("search").value = q;
    main.className = "";
    main.innerHTML = "<h1>Search: " + esc(q) + '</h1><p class="muted">' + hits.length + ' result(s)</p><ul class="plain" id="results">' + hits.map(function (e) { return "<li>" + hitHtml(e) + "</li>"; }).join("") + "</ul>";
  }
  function fmtBytes(b) { if (b == null) return ""; var u = ["B", "KB", "MB", "GB", "TB"], i = 0; while (b >= 1024 && i < 4) { b /= 1024; i++; } return b.toFixed(i ? 1 : 0) + " " + u[i]; }
  function nodePage(n) {
    var h = '<h1 id="title">' + esc(label(n)) + '</h1><p><span class="badge" style="background:' + color(n) + '">' + esc(n.type === "model" ? n.mat : n.type) + "</span>";
    if (n.run) h += '<span class="badge st-' + esc(n.run.status) + '" title="' + esc(n.run.message || "") + '">last run: ' + esc(n.run.status) + "</span>";
    h += '<span class="muted">' + esc(n.path) + " · " + esc(n.lang) + (n.tags.length ? " · tags: " + n.tags.map(esc).join(", ") : "") + "</span></p>";
    h += '<div class="desc" id="desc">' + (n.desc ? md(n.desc) : '<p class="muted">No description.</p>') + "</div>";
    if (n.run) h += '<p class="muted">Last ' + esc(n.run.command || "run") + ": " + esc(n.run.status) + (n.run.at ? " at " + esc(n.run.at) : "") + (n.run.time != null ? " in " + n.run.time.toFixed(2) + " s" : "") + (n.run.rows != null ? ", " + n.run.rows + " rows" : "") + (n.run.message ? " — " + esc(n.run.message) : "") + "</p>";
    if (n.stats) h += '<p class="muted">Stats: ' + [n.stats.rows != null ? n.stats.rows + " rows" : "", n.stats.bytes != null ? fmtBytes(n.stats.bytes) + " on disk" : "", n.stats.built_at ? "built " + esc(n.stats.built_at) : ""].filter(Boolean).join(" · ") + "</p>";
    if (n.catalog_error) h += '<p class="muted">Catalog: ' + esc(n.catalog_error) + "</p>";
    var testsByCol = {}, nodeTests = [];
    n.tests.forEach(function (ti) { var t = T[ti]; if (t.column && N[t.node] === n) (testsByCol[t.column.toLowerCase()] = testsByCol[t.column.toLowerCase()] || []).push(t); else nodeTests.push(t); });
    h += '<h2>Columns</h2><table class="cols" id="columns"><tr><th>Column</th><th>Type</th><th>Description</th><th>Tests</th><th>Derived from</th></tr>';
    n.cols.forEach(function (c) {
      var lin = upCols(n, c.name);
      h += '<tr id="col-' + esc(c.name) + '"><td><a href="' + colHref(n, c.name) + '" title="column lineage"><code>' + esc(c.name) + "</code></a></td><td><code>" + esc(c.type) + "</code></td><td>" + md(c.desc) + "</td><td>" +
        (testsByCol[c.name.toLowerCase()] || []).map(function (t) { return '<span class="test' + (t.status ? " st-" + esc(t.status) : "") + '">' + esc(t.test) + "</span>"; }).join("") + '</td><td class="lin">' +
        lin.map(function (e) { var u = N[e[0]]; return u ? '<div><a href="' + colHref(u, e[1]) + '">' + esc(label(u)) + "." + esc(e[1]) + '</a> <span class="kind kind-' + esc(e[2]) + '">' + esc(e[2]) + "</span></div>" : ""; }).join("") + "</td></tr>";
    });
    if (!n.cols.length) h += '<tr><td colspan="5" class="muted">No columns known (document them in YAML, or run `sparkmodels docs generate` with Spark).</td></tr>';
    h += "</table>";
    if (n.lineage_complete === false) h += '<p class="muted">Some output columns come from a <code>*</code> over a relation whose columns are unknown.</p>';
    h += '<h2>Lineage</h2><p><a id="open-graph" href="#!/graph/' + encodeURIComponent(n.id) + '?up=2&amp;down=2">Open in the lineage graph →</a></p><div class="mini"><canvas id="minigraph"></canvas></div>';
    h += '<div class="grid2"><div><h2>Depends on</h2><ul class="plain" id="upstream">' + (n.deps.map(function (i) { return "<li>" + link(N[i]) + "</li>"; }).join("") || '<li class="muted">nothing</li>') + '</ul></div><div><h2>Referenced by</h2><ul class="plain" id="downstream">' + (n.kids.map(function (i) { return "<li>" + link(N[i]) + "</li>"; }).join("") || '<li class="muted">nothing</li>') + "</ul></div></div>";
    if (nodeTests.length) h += '<h2>Tests</h2><ul class="plain">' + nodeTests.map(function (t) { return "<li><code>" + esc(t.name) + "</code>" + (t.status ? ' <span class="badge st-' + esc(t.status) + '">' + esc(t.status) + "</span>" : "") + "</li>"; }).join("") + "</ul>";
    if (n.raw || n.compiled) {
      var tabs = n.compiled ? [["compiled", "Compiled SQL", n.compiled, "sql"], ["raw", "Source", n.raw, "sql"]] : [["raw", n.lang === "python" ? "Python source" : "Source", n.raw, n.lang]];
      h += '<h2>Code</h2><div class="tabs">' + tabs.map(function (t, k) { return '<button data-tab="' + t[0] + '" class="' + (k ? "" : "on") + '">' + esc(t[1]) + "</button>"; }).join("") + "</div>" +
        tabs.map(function (t, k) { return '<pre class="code" data-code="' + t[0] + '"' + (k ? " hidden" : "") + ">" + hl(t[2], t[3]) + "</pre>"; }).join("");
    }
    if (n.external) h += "<h2>External location</h2><pre class=\"code\">" + esc(JSON.stringify(n.external, null, 2)) + "</pre>";
    h += '<h2>Config</h2><pre class="code">' + esc(JSON.stringify(n.config, null, 2)) + "</pre>";
    main.className = ""; main.innerHTML = h; main.scrollTop = 0;
    Array.prototype.forEach.call(main.querySelectorAll(".tabs button"), function (b) {
      b.onclick = function () {
        Array.prototype.forEach.call(main.querySelectorAll(".tabs button"), function (x) { x.className = x === b ? "on" : ""; });
        Array.prototype.forEach.call(main.querySelectorAll("pre[data-code]"), function (p) { p.hidden = p.getAttribute("data-code") !== b.getAttribute("data-tab"); });
      };
    });
    var g = new Graph($("minigraph"), nodeModel(n, 2, 2), function (m) { location.hash = nodeHref(m.n); });
    g.model.top = 0; g.fit();
    markSidebar(n);
  }
  function graphPage(n, q, col) {
    var up = q.up != null ? +q.up : 2, down = q.down != null ? +q.down : 2;
    var model = col ? columnModel(n, col, up, down) : nodeModel(n, up, down);
    var legend = col ? Object.keys(KIND_COLORS).map(function (k) { return '<span><span class="dot" style="background:' + KIND_COLORS[k] + '"></span>' + k + "</span>"; }).join("")
      : Object.keys(COLORS).map(function (k) { return '<span><span class="dot" style="background:' + COLORS[k] + '"></span>' + k + "</span>"; }).join("");
    var h = '<div id="graphbar"><b id="graph-title">' + (col ? "Column lineage: " + esc(label(n)) + "." + esc(col) : n ? "Lineage of " + esc(label(n)) : "Whole project (" + N.length + " nodes)") + "</b>";
    if (n) h += '<label>upstream <input id="up" type="number" min="0" max="99" value="' + up + '"></label><label>downstream <input id="down" type="number" min="0" max="99" value="' + down + '"></label>' +
      '<a href="' + nodeHref(n) + '">open ' + esc(n.name) + "</a>" + (col ? "" : ' <a href="#!/graph">whole project</a>');
    h += ' <button id="fit">fit</button><span class="legend">' + legend + "</span></div><canvas id=\"graph\"></canvas>";
    main.className = "graph"; main.innerHTML = h;
    var g = new Graph($("graph"), model, function (m) { location.hash = m.col ? colHref(m.n, m.col) : nodeHref(m.n); });
    var focus = n ? model.nodes.filter(function (it) { return it.focus; })[0] : null;
    g.fit(focus);
    $("fit").onclick = function () { g.fit(); };
    if (n) {
      var go = function () { location.hash = (col ? colHref(n, col) : "#!/graph/" + encodeURIComponent(n.id)) + "?up=" + (+$("up").value || 0) + "&down=" + (+$("down").value || 0); };
      $("up").onchange = go; $("down").onchange = go;
    }
    markSidebar(n);
  }
  function notFound(what) { main.className = ""; main.innerHTML = "<h1>Not found</h1><p class=\"muted\">" + esc(what) + '</p><p><a href="#!/">Home</a></p>'; }
  function route() {
    var r = parse(), p = r.parts;
    if (p[0] === "node") { var n = BY_ID[p[1]]; return n ? nodePage(n) : notFound(p[1]); }
    if (p[0] === "graph") { if (!p[1]) return graphPage(null, r.q); var g = BY_ID[p[1]]; return g ? graphPage(g, r.q) : notFound(p[1]); }
    if (p[0] === "column") { var c = BY_ID[p[1]]; return c ? graphPage(c, r.q, p[2]) : notFound(p[1]); }
    if (p[0] === "search") return searchPage(r.q.q || "");
    home();
  }

  // -- Search box: live suggestions, arrows + Enter, Enter without a choice opens the results page.
  function wireSearch() {
    var box = $("search"), sug = $("suggest"), sel = -1, hits = [];
    function show() {
      hits = search(box.value, 12); sel = -1;
      sug.innerHTML = hits.map(hitHtml).join("");
      sug.hidden = !hits.length;
    }
    box.addEventListener("input", show);
    box.addEventListener("keydown", function (ev) {
      var links = sug.querySelectorAll("a");
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault(); sel = Math.max(0, Math.min(links.length - 1, sel + (ev.key === "ArrowDown" ? 1 : -1)));
        Array.prototype.forEach.call(links, function (a, k) { a.className = k === sel ? "sel" : ""; });
      } else if (ev.key === "Enter") {
        location.hash = sel >= 0 && links[sel] ? links[sel].getAttribute("href") : "#!/search?q=" + encodeURIComponent(box.value);
        sug.hidden = true;
      } else if (ev.key === "Escape") sug.hidden = true;
    });
    document.addEventListener("click", function (ev) { if (ev.target !== box) sug.hidden = true; });
  }

  $("project").textContent = D.project;
  document.title = D.project + " · sparkmodels docs";
  sidebar();
  wireSearch();
  window.addEventListener("hashchange", route);
  route();
  window.requestAnimationFrame(function () { document.body.setAttribute("data-first-paint-ms", Math.round(performance.now())); });
  window.sparkmodelsDocs = { search: search, md: md, hl: hl, esc: esc };
})();
