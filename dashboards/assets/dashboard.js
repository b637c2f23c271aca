// Renders every chart card from its inline JSON: line, bar, stacked bar or table.
// Series toggles, date-range buttons and a hover readout; no network, no libraries.
(function () {
  "use strict";
  var COLORS = ["#2b6cb0", "#ed8936", "#38a169", "#d53f8c", "#805ad5", "#d69e2e", "#319795",
    "#e53e3e", "#718096", "#3182ce"];
  var SVG = "http://www.w3.org/2000/svg";

  function format(kind, v) {
    if (v === null || v === undefined) return "–";
    if (typeof v !== "number") return String(v);
    if (kind === "yen") return "¥" + Math.round(v).toLocaleString("en-US");
    if (kind === "percent") return (v * 100).toFixed(1) + "%";
    if (kind === "hours") return v.toFixed(1) + " h";
    if (kind === "text") return String(v);
    return Math.round(v * 100) / 100 === Math.round(v) ? Math.round(v).toLocaleString("en-US")
      : v.toLocaleString("en-US", {maximumFractionDigits: 3});
  }
  function isDate(v) { return typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v); }
  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }
  function button(label, parent, onClick) {
    var b = document.createElement("button");
    b.type = "button"; b.textContent = label; b.addEventListener("click", onClick);
    parent.appendChild(b);
    return b;
  }

  function seriesOf(spec) {
    var offset = spec.series ? 2 : 1;
    var names = [], values = {};
    spec.rows.forEach(function (row) {
      var keys = spec.series ? [String(row[1])] : spec.y;
      keys.forEach(function (name, i) {
        if (!(name in values)) { values[name] = {}; names.push(name); }
        var v = row[offset + (spec.series ? 0 : i)];
        values[name][row[0]] = (values[name][row[0]] || 0) + (v === null ? 0 : v);
      });
    });
    return {names: names, values: values};
  }

  function table(spec, body) {
    var t = document.createElement("table"); t.className = "data";
    var head = [spec.x].concat(spec.series ? [spec.series] : [], spec.y);
    var tr = t.insertRow();
    head.forEach(function (h) { var th = document.createElement("th"); th.textContent = h; tr.appendChild(th); });
    spec.rows.forEach(function (row) {
      var r = t.insertRow();
      row.forEach(function (v, i) {
        r.insertCell().textContent = i < head.length - spec.y.length ? format("text", v) : format(spec.format, v);
      });
    });
    body.appendChild(t);
  }

  function draw(spec, body, state) {
    body.textContent = "";
    var data = seriesOf(spec);
    var xs = [];
    spec.rows.forEach(function (row) { if (xs.indexOf(row[0]) < 0) xs.push(row[0]); });
    if (state.rangeDays && xs.length && isDate(xs[xs.length - 1])) {
      var last = new Date(xs[xs.length - 1]);
      xs = xs.filter(function (x) { return (last - new Date(x)) / 86400000 < state.rangeDays; });
    }
    var shown = data.names.filter(function (n) { return !state.hidden[n]; });
    if (!xs.length || !shown.length) {
      var p = document.createElement("p"); p.className = "empty"; p.textContent = "No data in this range.";
      body.appendChild(p); return;
    }
    var W = 900, H = 260, L = 70, B = 24, T = 8;
    var stacked = spec.type === "stacked_bar";
    var lo = 0, hi = 0;
    xs.forEach(function (x) {
      var total = 0;
      shown.forEach(function (n) {
        var v = data.values[n][x] || 0;
        total += v; lo = Math.min(lo, v); hi = Math.max(hi, stacked ? total : v);
      });
    });
    if (hi === lo) hi = lo + 1;
    var y = function (v) { return T + (H - T - B) * (1 - (v - lo) / (hi - lo)); };
    var step = (W - L) / xs.length;
    var svg = el("svg", {"class": "chart", viewBox: "0 0 " + W + " " + H, role: "img",
      "aria-label": spec.title});
    for (var g = 0; g <= 4; g++) {
      var gv = lo + (hi - lo) * g / 4;
      el("line", {"class": "grid", x1: L, x2: W, y1: y(gv), y2: y(gv)}, svg);
      el("text", {x: L - 6, y: y(gv) + 4, "text-anchor": "end"}, svg).textContent = format(spec.format, gv);
    }
    el("text", {x: L, y: H - 6}, svg).textContent = String(xs[0]);
    el("text", {x: W, y: H - 6, "text-anchor": "end"}, svg).textContent = String(xs[xs.length - 1]);
    var base = {};
    shown.forEach(function (name) {
      var color = COLORS[data.names.indexOf(name) % COLORS.length];
      if (spec.type === "line") {
        var points = xs.map(function (x, i) {
          return (L + step * (i + 0.5)).toFixed(1) + "," + y(data.values[name][x] || 0).toFixed(1);
        });
        el("polyline", {"class": "line", points: points.join(" "), stroke: color}, svg);
        return;
      }
      var width = stacked ? step * 0.8 : step * 0.8 / shown.length;
      xs.forEach(function (x, i) {
        var v = data.values[name][x] || 0;
        var start = stacked ? (base[x] || 0) : 0;
        var left = L + step * i + step * 0.1 + (stacked ? 0 : width * shown.indexOf(name));
        var rect = el("rect", {x: left.toFixed(1), y: Math.min(y(start), y(start + v)).toFixed(1),
          width: Math.max(width, 1).toFixed(1), height: Math.max(Math.abs(y(start) - y(start + v)), 1).toFixed(1),
          fill: color}, svg);
        el("title", {}, rect).textContent = x + " · " + name + ": " + format(spec.format, v);
        if (stacked) base[x] = start + v;
      });
    });
    var readout = document.createElement("div"); readout.className = "readout";
    svg.addEventListener("mousemove", function (event) {
      var box = svg.getBoundingClientRect();
      var i = Math.floor(((event.clientX - box.left) * W / box.width - L) / step);
      if (i < 0 || i >= xs.length) return;
      readout.textContent = xs[i] + " — " + shown.map(function (n) {
        return n + ": " + format(spec.format, data.values[n][xs[i]]);
      }).join(" · ");
    });
    body.appendChild(svg);
    body.appendChild(readout);
  }

  function render(card) {
    var spec = JSON.parse(document.getElementById(card.getAttribute("data-source")).textContent);
    var body = card.querySelector(".chart-body");
    if (spec.type === "table") { table(spec, body); card.setAttribute("data-rendered", "true"); return; }
    var state = {hidden: {}, rangeDays: spec.rangeDays};
    var controls = document.createElement("div"); controls.className = "controls";
    card.insertBefore(controls, body);
    if (spec.rows.length && isDate(spec.rows[0][0])) {
      var ranges = [[30, "30 days"], [90, "90 days"], [365, "1 year"], [null, "All"]];
      var rangeButtons = ranges.map(function (r) {
        var b = button(r[1], controls, function () {
          state.rangeDays = r[0];
          rangeButtons.forEach(function (o) { o.className = o === b ? "on" : ""; });
          draw(spec, body, state);
        });
        if (r[0] === (state.rangeDays || null)) b.className = "on";
        return b;
      });
    }
    seriesOf(spec).names.forEach(function (name, i) {
      var b = button(name, controls, function () {
        state.hidden[name] = !state.hidden[name];
        b.className = state.hidden[name] ? "off" : "";
        draw(spec, body, state);
      });
      b.style.borderLeft = "6px solid " + COLORS[i % COLORS.length];
    });
    draw(spec, body, state);
    card.setAttribute("data-rendered", "true");
  }

  Array.prototype.forEach.call(document.querySelectorAll(".chart-card"), render);
})();
