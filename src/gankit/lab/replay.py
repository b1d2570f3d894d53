"""The HTML replay of a lab session: one self-contained file, its frames and a step slider.

The page holds the frames' JSON and the lab's own drawing script and style inline: it opens
from a file, offline, with no server, for a lecture or a course page.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

STATIC = Path(__file__).parent / "static"

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gankit lab replay: {title}</title>
<style>{style}</style>
</head>
<body>
<header><h1>gankit lab replay</h1><span>{title}</span></header>
<main><section>
<div class="replay-controls">
  <button id="play">play</button>
  <input type="range" id="slider" min="0" max="{last}" value="0">
  <span id="position"></span>
</div>
{panels}
</section></main>
<script>{draw}</script>
<script>
"use strict";
const SCENE = {scene};
const FRAMES = {frames};
const layers = LabDraw.layers(document);
const slider = document.getElementById("slider");
let timer = null;
function show(index) {{
  const frame = FRAMES[index];
  LabDraw.drawFrame(layers, SCENE, frame, {{real: true, manifold: true, arrows: true}});
  LabDraw.drawCurves(document.getElementById("curves"),
    FRAMES.slice(0, index + 1).map((f) => f.stats), SCENE);
  document.getElementById("numbers").innerHTML = LabDraw.numbers(frame.stats, SCENE);
  document.getElementById("position").textContent =
    `frame ${{index + 1}} of ${{FRAMES.length}}, step ${{frame.stats.step}}`;
  window.shownFrame = index;
}}
slider.addEventListener("input", () => show(Number(slider.value)));
document.getElementById("play").addEventListener("click", (event) => {{
  if (timer) {{ clearInterval(timer); timer = null; event.target.textContent = "play"; return; }}
  event.target.textContent = "pause";
  timer = setInterval(() => {{
    slider.value = (Number(slider.value) + 1) % FRAMES.length;
    show(Number(slider.value));
  }}, 100);
}});
show(0);
</script>
</body>
</html>
"""


def _panels() -> str:
    """The live page's panels and curves, as they are in ``index.html``: the replay draws the
    same pictures into the same elements."""
    page = (STATIC / "index.html").read_text()
    start = page.index('<div class="panels">')
    end = page.index('<div class="curves" id="curves"></div>') + len(
        '<div class="curves" id="curves"></div>'
    )
    return page[start:end]


def _inline(text: str) -> str:
    """Text safe inside a <script> element: no "</" can close it early."""
    return text.replace("</", "<\\/")


def replay_html(scene: dict[str, Any], frames: list[str]) -> str:
    """The page of ``scene`` (as :class:`~gankit.lab.view.View` gives it) and the frames' JSON."""
    first, last = json.loads(frames[0])["stats"]["step"], json.loads(frames[-1])["stats"]["step"]
    title = f"{scene['problem']}, steps {first} to {last}, {len(frames)} frames"
    return PAGE.format(
        title=escape(title),
        style=(STATIC / "lab.css").read_text(),
        last=len(frames) - 1,
        panels=_panels(),
        draw=_inline((STATIC / "draw.js").read_text()),
        scene=_inline(json.dumps({k: v for k, v in scene.items() if k != "curves"})),
        frames=_inline("[" + ",".join(frames) + "]"),
    )
