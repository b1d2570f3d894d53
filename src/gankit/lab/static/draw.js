// Drawing the lab's scenes and frames on canvases, by hand: shared by the live page and the
// exported replay. Coordinates arrive as integers (scene.scale per data unit), heatmaps and
// densities as 0..255.
"use strict";

const LabDraw = (() => {
  const REAL = "#1f77b4", FAKE = "#d62728", INK = "#1f2328";
  const CURVES = [
    {id: "losses", title: "losses", series: [["loss_d", "L_D", REAL], ["loss_g", "L_G", FAKE]]},
    {id: "outputs", title: "mean D(x), D(G(z))", range: [0, 1], lines: [[0.5, "1/2"]],
     series: [["d_real", "D(x)", REAL], ["d_fake", "D(G(z))", FAKE]]},
    {id: "value", title: "V(D, G) against -log 4 + 2 JS", lines: [[-Math.log(4), "-log 4"]],
     series: [["value", "V(D,G)", INK], ["value_optimum", "-log4+2JS", "#8250df"]]},
    {id: "js", title: "JS(p_data||p_g), mean |D - D*|", floor: "js_floor",
     series: [["js", "JS", "#8250df"], ["d_gap", "|D-D*|", "#bf8700"]]},
    {id: "grad", title: "|grad L_G| at G's samples", series: [["grad_g", "|grad L_G|", FAKE]]},
    {id: "modes", title: "modes captured, high quality", series: [["modes", "modes", "#1a7f37"],
     ["high_quality", "high quality", "#57606a"]], right: "high_quality"},
  ];

  function colour(value) {  // 0 (fake) red .. 1/2 white .. 1 (real) blue
    const t = value / 255, a = Math.abs(t - 0.5) * 2;
    const [r, g, b] = t < 0.5 ? [214, 39, 40] : [31, 119, 180];
    return [255 + (r - 255) * a * 0.75, 255 + (g - 255) * a * 0.75, 255 + (b - 255) * a * 0.75];
  }

  function mapper(scene, canvas) {  // data units -> canvas pixels
    const [[x0, x1], [y0, y1]] = scene.dim === 1 ? [scene.bounds[0], [0, 1]] : scene.bounds;
    const w = canvas.width, h = canvas.height, s = 1 / scene.scale;
    return {
      x: (v) => (v * s - x0) / (x1 - x0) * w,
      y: (v) => h - (v * s - y0) / (y1 - y0) * h,
      px: w / (x1 - x0),
    };
  }

  function clear(canvas) {
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    return ctx;
  }

  function heatmap(canvas, values, n) {
    const ctx = clear(canvas), small = document.createElement("canvas");
    small.width = small.height = n;
    const image = small.getContext("2d").createImageData(n, n);
    for (let i = 0; i < n * n; i++) {
      const [r, g, b] = colour(values[i]);
      image.data.set([r, g, b, 255], 4 * i);
    }
    small.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
    return ctx;
  }

  function contours(ctx, values, n, levels) {  // marching squares on an n x n grid, top row first
    const w = ctx.canvas.width / (n - 1), h = ctx.canvas.height / (n - 1);
    ctx.strokeStyle = "rgba(13, 60, 110, 0.8)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const level of levels) {
      for (let i = 0; i < n - 1; i++) {
        for (let j = 0; j < n - 1; j++) {
          const c = [values[i * n + j], values[i * n + j + 1], values[(i + 1) * n + j + 1],
            values[(i + 1) * n + j]];
          const corners = [[j, i], [j + 1, i], [j + 1, i + 1], [j, i + 1]], points = [];
          for (let k = 0; k < 4; k++) {
            const a = c[k], b = c[(k + 1) % 4];
            if ((a < level) !== (b < level)) {
              const t = (level - a) / (b - a), p = corners[k], q = corners[(k + 1) % 4];
              points.push([(p[0] + t * (q[0] - p[0])) * w, (p[1] + t * (q[1] - p[1])) * h]);
            }
          }
          for (let k = 0; k + 1 < points.length; k += 2) {
            ctx.moveTo(points[k][0], points[k][1]);
            ctx.lineTo(points[k + 1][0], points[k + 1][1]);
          }
        }
      }
    }
    ctx.stroke();
  }

  function contourLayer(scene, canvas) {  // p_data's contours, drawn once per scene
    if (!scene.contours) {
      const layer = document.createElement("canvas");
      layer.width = canvas.width;
      layer.height = canvas.height;
      contours(layer.getContext("2d"), scene.p_data, scene.contour_grid, [13, 64]);
      scene.contours = layer;
    }
    return scene.contours;
  }

  function curve(ctx, values, colour, width, fill) {  // values 0..255 across the canvas
    const w = ctx.canvas.width, h = ctx.canvas.height, n = values.length;
    ctx.beginPath();
    ctx.moveTo(0, h);
    for (let i = 0; i < n; i++) ctx.lineTo(i / (n - 1) * w, h - values[i] / 255 * h * 0.9);
    if (fill) {
      ctx.lineTo(w, h);
      ctx.fillStyle = fill;
      ctx.fill();
    } else {
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.stroke();
    }
  }

  function dots(ctx, m, points, dim, colour, radius, y) {
    ctx.fillStyle = colour;
    for (const p of points) {
      ctx.beginPath();
      ctx.arc(m.x(p[0]), dim === 1 ? y : m.y(p[1]), radius, 0, 2 * Math.PI);
      ctx.fill();
    }
  }

  // The D panel and the D* panel: heat (D or D*, p_data's contours), samples, arrows.
  function drawFrame(layers, scene, frame, show) {
    const n = scene.grid, oneD = scene.dim === 1;
    for (const [name, values] of [["d", frame.d], ["star", frame.d_star]]) {
      const heat = layers[name].heat;
      if (oneD) {
        const ctx = clear(heat);
        curve(ctx, scene.p_data, null, 0, "rgba(31, 119, 180, 0.25)");
        curve(ctx, frame.p_g, null, 0, "rgba(214, 39, 40, 0.25)");
        curve(ctx, values, INK, name === "d" ? 1.5 : 3, null);
        if (name === "d") curve(ctx, frame.d_star, "rgba(0,0,0,0.25)", 3, null);
      } else {
        heatmap(heat, values, n).drawImage(contourLayer(scene, heat), 0, 0);
      }
    }
    for (const name of ["d", "star"]) {
      const canvas = layers[name].samples, ctx = clear(canvas), m = mapper(scene, canvas);
      const h = canvas.height;
      if (show.real) dots(ctx, m, scene.real, scene.dim, "rgba(31, 119, 180, 0.55)", 1.6, h - 6);
      if (show.manifold && name === "d") manifold(ctx, m, scene, frame);
      dots(ctx, m, frame.fakes, scene.dim, FAKE, 2.2, h - 14);
    }
    const arrows = layers.d.arrows, ctx = clear(arrows);
    if (show.arrows) {
      const m = mapper(scene, arrows), gain = show.arrowGain || 0.05;
      ctx.strokeStyle = "rgba(60, 60, 60, 0.8)";
      ctx.lineWidth = 1;
      ctx.beginPath();
      frame.arrows.forEach((g, i) => {
        const p = frame.fakes[i], x = m.x(p[0]), y = oneD ? arrows.height - 14 : m.y(p[1]);
        let dx = g[0] / scene.scale * m.px * gain, dy = oneD ? 0 : -g[1] / scene.scale * m.px * gain;
        const length = Math.hypot(dx, dy), most = arrows.width * 0.12;
        if (length < 0.5) return;
        if (length > most) { dx *= most / length; dy *= most / length; }
        const ex = x + dx, ey = y + dy, angle = Math.atan2(dy, dx);
        ctx.moveTo(x, y); ctx.lineTo(ex, ey);
        ctx.moveTo(ex - 4 * Math.cos(angle - 0.5), ey - 4 * Math.sin(angle - 0.5));
        ctx.lineTo(ex, ey);
        ctx.lineTo(ex - 4 * Math.cos(angle + 0.5), ey - 4 * Math.sin(angle + 0.5));
      });
      ctx.stroke();
    }
  }

  function manifold(ctx, m, scene, frame) {  // G's image of a grid over the noise
    const lines = scene.manifold_lines, points = frame.manifold, per = points.length / lines;
    ctx.strokeStyle = "rgba(90, 90, 90, 0.45)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    if (scene.dim === 1) {  // z along the top edge, joined to where G puts it
      const top = 4, bottom = ctx.canvas.height - 14;
      points.forEach((p, i) => {
        if (i % 2) return;
        ctx.moveTo(ctx.canvas.width * i / (points.length - 1), top);
        ctx.lineTo(m.x(p[0]), bottom);
      });
    } else {
      for (let l = 0; l < lines; l++) {
        for (let k = 0; k < per; k++) {
          const p = points[l * per + k];
          (k ? ctx.lineTo : ctx.moveTo).call(ctx, m.x(p[0]), m.y(p[1]));
        }
      }
    }
    ctx.stroke();
  }

  function drawCurves(container, records, scene) {
    for (const spec of CURVES) {
      let canvas = container.querySelector(`canvas[data-curve="${spec.id}"]`);
      if (!canvas) {
        const box = document.createElement("figure");
        box.className = "curve";
        canvas = document.createElement("canvas");
        canvas.width = 300; canvas.height = 120;
        canvas.dataset.curve = spec.id;
        const caption = document.createElement("figcaption");
        caption.innerHTML = spec.series.map(([, label, c]) =>
          `<span style="color:${c}">&#9632;</span> ${label}`).join(" ") + ` <b>${spec.title}</b>`;
        box.append(canvas, caption);
        container.append(box);
      }
      canvas.parentElement.hidden = spec.id === "modes" && !scene.modes;
      plot(canvas, spec, records, scene);
    }
  }

  function plot(canvas, spec, records, scene) {
    const ctx = clear(canvas), w = canvas.width, h = canvas.height, pad = 4;
    const left = spec.series.filter(([key]) => key !== spec.right);
    let lo = Infinity, hi = -Infinity;
    const values = (key) => records.map((r) => [r.step + r.d_updates / 1e9, r[key]])
      .filter(([, v]) => v !== null && v !== undefined && Number.isFinite(v));
    for (const [key] of left) for (const [, v] of values(key)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const extra = (spec.lines || []).map(([v]) => v);
    if (spec.floor && scene && scene[spec.floor] !== undefined) extra.push(scene[spec.floor]);
    for (const v of extra) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (spec.range) [lo, hi] = spec.range;
    if (!(hi > lo)) { hi = (Number.isFinite(hi) ? hi : 0) + 0.5; lo = hi - 1; }
    const n = records.length, sx = (i) => pad + i / Math.max(1, n - 1) * (w - 2 * pad);
    const sy = (v, a, b) => h - pad - (v - a) / (b - a) * (h - 2 * pad);
    ctx.font = "10px sans-serif";
    ctx.fillStyle = "#57606a";
    ctx.fillText(hi.toPrecision(3), 2, 10);
    ctx.fillText(lo.toPrecision(3), 2, h - 2);
    ctx.setLineDash([3, 3]);
    ctx.strokeStyle = "#8c959f";
    for (const v of extra) {
      ctx.beginPath(); ctx.moveTo(0, sy(v, lo, hi)); ctx.lineTo(w, sy(v, lo, hi)); ctx.stroke();
    }
    ctx.setLineDash([]);
    if (n > 0) {
      ctx.fillText(`step ${records[n - 1].step}`, w - 70, h - 2);
    }
    for (const [key, , c] of spec.series) {
      const [a, b] = key === spec.right ? [0, 1] : [lo, hi];
      ctx.strokeStyle = c;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let started = false;
      records.forEach((r, i) => {
        const v = r[key];
        if (v === null || v === undefined || !Number.isFinite(v)) { started = false; return; }
        const y = Math.min(h, Math.max(0, sy(v, a, b)));
        (started ? ctx.lineTo : ctx.moveTo).call(ctx, sx(i), y);
        started = true;
      });
      ctx.stroke();
    }
  }

  function format(v, digits) {
    return v === null || v === undefined ? "–" : Number(v).toFixed(digits);
  }

  function numbers(stats, scene) {
    const rows = [
      ["step (G updates)", stats.step], ["D updates", stats.d_updates],
      ["L_D", format(stats.loss_d, 4)], ["L_G", format(stats.loss_g, 4)],
      ["mean D(x)", format(stats.d_real, 3)], ["mean D(G(z))", format(stats.d_fake, 3)],
      ["V(D, G)", format(stats.value, 4)], ["-log 4 + 2 JS", format(stats.value_optimum, 4)],
      ["JS (KDE)", `${format(stats.js, 4)} (floor ${format(scene.js_floor, 4)})`],
      ["mean |D - D*|", format(stats.d_gap, 4)], ["|grad L_G|", format(stats.grad_g, 4)],
    ];
    if (stats.modes !== undefined) {
      rows.push(["modes", stats.modes], ["high quality", format(stats.high_quality, 3)]);
    }
    return rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join("");
  }

  function layers(root) {
    const get = (id) => root.querySelector(`#${id}`);
    return {
      d: {heat: get("heat-d"), samples: get("samples-d"), arrows: get("arrows-d")},
      star: {heat: get("heat-star"), samples: get("samples-star")},
    };
  }

  // Curves keep at most `capacity` records, thinned by half when full (as the server does).
  function thinnedPush(history, record, capacity) {
    history.appended = (history.appended || 0);
    history.stride = history.stride || 1;
    if (history.appended % history.stride === 0) {
      history.items.push(record);
      if (history.items.length > capacity) {
        history.items = history.items.filter((_, i) => i % 2 === 0);
        history.stride *= 2;
      }
    }
    history.appended += 1;
  }

  return {drawFrame, drawCurves, numbers, layers, thinnedPush, CURVES};
})();
