// The live page: frames from /events, controls to the server as POST/JSON.
"use strict";

const CURVE_POINTS = 1000;
const lab = {scene: null, frame: null, curves: {items: []}, drawn: 0, received: 0, points: []};
window.lab = lab;
const $ = (id) => document.getElementById(id);
const layers = LabDraw.layers(document);

function say(text, error) {
  const box = $("message");
  box.textContent = text;
  box.className = error ? "error" : "";
}

async function post(path, body) {
  const response = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify(body)});
  const answer = await response.json();
  if (!response.ok) {
    say(answer.error, true);
    return null;
  }
  if (answer.message) say(answer.message, false);
  return answer;
}

function show() {
  return {real: $("show-real").checked, manifold: $("show-manifold").checked,
    arrows: $("show-arrows").checked};
}

let pending = false;
function draw() {
  pending = false;
  if (!lab.scene || !lab.frame) return;
  LabDraw.drawFrame(layers, lab.scene, lab.frame, show());
  LabDraw.drawCurves($("curves"), lab.curves.items, lab.scene);
  $("numbers").innerHTML = LabDraw.numbers(lab.frame.stats, lab.scene);
  drawBoard();
  lab.shown = lab.frame;  // what the canvases show now
  lab.drawn += 1;
}

function schedule() {
  if (!pending) { pending = true; requestAnimationFrame(draw); }
}

async function loadState() {
  const state = await (await fetch("/state")).json();
  const fill = (select, options, value) => {
    select.innerHTML = options.map((o) => `<option>${o}</option>`).join("");
    select.value = String(value);
  };
  fill($("problem"), state.problems, state.problem);
  fill($("loss"), state.losses, state.loss);
  fill($("speed"), state.speeds, state.speed);
  $("slow").checked = state.slow;
  $("d-steps").value = state.d_steps;
  $("batch-size").value = state.batch_size;
  $("r1").value = state.r1;
  $("ema").value = state.ema;
  $("pack").value = state.pack;
  $("seed").value = state.seed;
  $("noise-dim").value = state.noise.dim;
  $("noise-prior").value = state.noise.prior;
  for (const [prefix, net] of [["g", "generator"], ["d", "discriminator"]]) {
    $(`${prefix}-lr`).value = state[net].lr;
    $(`${prefix}-optimizer`).value = state[net].optimizer;
    $(`${prefix}-layers`).value = state[net].hidden.length;
    $(`${prefix}-width`).value = state[net].hidden[0];
  }
  if (state.problem !== lab.problem) {  // keep a folder the user typed for this problem
    $("out").value = `runs/lab-${state.problem}`;
    $("drawing").hidden = state.problem !== "drawn";
    lab.problem = state.problem;
  }
}

function connect() {
  const events = new EventSource("/events");
  events.addEventListener("scene", (event) => {
    lab.scene = JSON.parse(event.data);
    lab.curves = {items: []};
    for (const record of lab.scene.curves) LabDraw.thinnedPush(lab.curves, record, CURVE_POINTS);
    schedule();
  });
  events.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    const last = lab.curves.items[lab.curves.items.length - 1];
    const stats = frame.stats;
    if (lab.frame && stats.step + stats.d_updates > 0 && (stats.step !== lab.frame.stats.step ||
        stats.d_updates !== lab.frame.stats.d_updates) &&
        !(last && last.step === stats.step && last.d_updates === stats.d_updates)) {
      LabDraw.thinnedPush(lab.curves, stats, CURVE_POINTS);
    }
    lab.frame = frame;
    lab.received += 1;
    if (document.activeElement !== $("speed")) $("speed").value = String(frame.speed);
    $("slow").checked = frame.slow;
    $("play").textContent = frame.playing ? "pause" : "play";
    $("play").classList.toggle("playing", frame.playing);
    if (frame.notice && frame.notice !== lab.notice) say(frame.notice, frame.notice.includes("NaN"));
    if (frame.settings !== lab.settings) loadState();  // changed here or in another page
    lab.settings = frame.settings;
    lab.notice = frame.notice;
    schedule();
  };
}

// The board for drawing a distribution: the D panel, spanning [-1.5, 1.5]^2 while drawing.
const BOARD = 1.5;
let drawing = false;
function boardPoint(event) {
  const box = $("panel-d").getBoundingClientRect();
  const x = ((event.clientX - box.left) / box.width * 2 - 1) * BOARD;
  const y = (1 - (event.clientY - box.top) / box.height * 2) * BOARD;
  return [Math.max(-BOARD, Math.min(BOARD, x)), Math.max(-BOARD, Math.min(BOARD, y))];
}
function drawBoard() {
  if (!lab.drawingMode || lab.points.length === 0) return;
  const ctx = layers.d.arrows.getContext("2d"), w = layers.d.arrows.width;
  ctx.fillStyle = "rgba(130, 80, 223, 0.7)";
  for (const [x, y] of lab.points) {
    ctx.beginPath();
    ctx.arc((x / BOARD + 1) / 2 * w, (1 - y / BOARD) / 2 * w, 2, 0, 2 * Math.PI);
    ctx.fill();
  }
}
$("panel-d").addEventListener("mousedown", (event) => {
  if ($("drawing").hidden) return;
  drawing = lab.drawingMode = true;
  if (!event.shiftKey) lab.points = [];
  lab.points.push(boardPoint(event));
  schedule();
});
$("panel-d").addEventListener("mousemove", (event) => {
  if (!drawing) return;
  lab.points.push(boardPoint(event));
  schedule();
});
window.addEventListener("mouseup", () => { drawing = false; });
$("use-drawing").addEventListener("click", async () => {
  if (await post("/problem", {name: "drawn", points: lab.points})) {
    lab.drawingMode = false;
    say(`training on ${lab.points.length} drawn points`, false);
    await loadState();
  }
});

for (const [id, name] of [["step", "step"], ["step-d", "step_d"], ["step-g", "step_g"],
  ["reset", "reset"]]) {
  $(id).addEventListener("click", () => post("/command", {name}));
}
$("play").addEventListener("click", () =>
  post("/command", {name: lab.frame && lab.frame.playing ? "pause" : "play"}));
for (const id of ["speed", "slow"]) {
  $(id).addEventListener("change", () =>
    post("/speed", {steps: Number($("speed").value), slow: $("slow").checked}));
}
$("problem").addEventListener("change", async () => {
  const name = $("problem").value;
  if (name === "drawn") {
    $("drawing").hidden = false;
    lab.drawingMode = true;
    say("draw on the D panel (shift adds a stroke), then press 'train on the drawing'", false);
    post("/command", {name: "pause"});
    return;
  }
  $("drawing").hidden = true;
  if (await post("/problem", {name})) { say(`problem ${name}: the training starts over`, false); await loadState(); }
});
for (const element of document.querySelectorAll("[data-key]")) {
  element.addEventListener("change", () =>
    post("/control", {key: element.dataset.key, value: element.value}));
}
for (const element of document.querySelectorAll("[data-net]")) {
  element.addEventListener("change", () => {
    const prefix = element.dataset.net === "generator" ? "g" : "d";
    const count = Number($(`${prefix}-layers`).value), width = $(`${prefix}-width`).value;
    const hidden = Array.from({length: Math.max(count, 0)}, () => width).join(",");
    post("/control", {key: `${element.dataset.net}.hidden`, value: hidden});
  });
}
for (const id of ["show-real", "show-manifold", "show-arrows"]) $(id).addEventListener("change", schedule);
$("save").addEventListener("click", () => post("/save", {out: $("out").value}));
$("export").addEventListener("click", async () => {
  const response = await fetch("/replay");
  if (!response.ok) { say((await response.json()).error, true); return; }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = `gankit-lab-${lab.scene.problem}.html`;
  link.click();
  say("exported the replay: one HTML file, no server needed", false);
});

loadState().then(connect);
