"""How many pictures a second `gankit lab` draws in a real browser, for ring8 with the default
networks, at several training steps per frame.

    python benchmarks/lab_frames.py [--seconds 10] [--screenshot docs/lab.png]

Starts `gankit lab --no-browser` on a free port, opens the page in headless Chromium
(/usr/bin/chromium and /usr/bin/chromedriver), presses play at each speed and counts, over
``seconds``, the frames the server sent, the frames the page drew (its requestAnimationFrame
redraws of a new frame) and the training steps taken; and, in this process on one thread, what
one frame's pictures and numbers cost (``View.frame``) beside one training step. Writes
benchmarks/results/lab_frames.json; with --screenshot, also a picture of the page after a
while of training.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

SPEEDS = (1, 5, 20)


def start_lab() -> tuple[subprocess.Popen, str]:
    """`gankit lab --no-browser --port 0` and the address it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gankit.cli", "lab", "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        raise SystemExit(f"gankit lab did not start: {line!r}")
    return process, line.split()[2]


def browser(profile: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1080",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def post(url: str, path: str, body: dict) -> None:
    request = urllib.request.Request(
        url + path.lstrip("/"), json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request).read()


def counters(driver: webdriver.Chrome) -> dict:
    return driver.execute_script(
        "return {drawn: lab.drawn, received: lab.received, step: lab.frame.stats.step};"
    )


def server_costs(repeats: int = 50) -> dict:
    """Milliseconds of one frame's pictures and numbers, and of one training step (best of
    five rounds of ``repeats``: slower rounds measure the other work on the machine)."""
    from gankit.lab.session import Session
    from gankit.threads import torch_threads

    with torch_threads(1):
        session = Session("ring8")
        for _ in range(20):
            session.command("step")

        def best(work) -> float:
            rounds = []
            for _ in range(5):
                started = time.perf_counter()
                for _ in range(repeats):
                    work()
                rounds.append((time.perf_counter() - started) / repeats * 1000)
            return min(rounds)

        return {
            "frame_ms": best(session.view.frame),
            "step_ms": best(session.trainer.train_step),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/lab_frames.json"))
    args = parser.parse_args()

    costs = server_costs()
    process, url = start_lab()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as profile:
            driver = browser(profile)
            try:
                driver.get(url)
                for _ in range(200):
                    if driver.execute_script("return window.lab && lab.frame !== null"):
                        break
                    time.sleep(0.05)
                for steps in SPEEDS:
                    post(url, "/speed", {"steps": steps, "slow": False})
                    post(url, "/command", {"name": "play"})
                    time.sleep(2)  # past the first frames
                    before, started = counters(driver), time.perf_counter()
                    time.sleep(args.seconds)
                    after, seconds = counters(driver), time.perf_counter() - started
                    post(url, "/command", {"name": "pause"})
                    rows.append(
                        {
                            "steps_per_frame": steps,
                            "frames_drawn_per_second": (after["drawn"] - before["drawn"]) / seconds,
                            "frames_sent_per_second": (after["received"] - before["received"])
                            / seconds,
                            "steps_per_second": (after["step"] - before["step"]) / seconds,
                        }
                    )
                if args.screenshot is not None:
                    # ring8 with 5 D steps per G step, about a thousand steps in
                    post(url, "/command", {"name": "reset"})
                    post(url, "/control", {"key": "d_steps", "value": "5"})
                    post(url, "/speed", {"steps": 5, "slow": False})
                    post(url, "/command", {"name": "play"})
                    time.sleep(15)
                    post(url, "/command", {"name": "pause"})
                    time.sleep(0.5)
                    driver.set_window_size(1400, 1000)
                    driver.save_screenshot(str(args.screenshot))
            finally:
                driver.quit()
    finally:
        process.terminate()
        process.wait(timeout=10)

    load = os.getloadavg()[0]
    print(
        f"one frame's pictures and numbers: {costs['frame_ms']:.1f} ms, one training step: "
        f"{costs['step_ms']:.1f} ms (one thread); load average {load:.2f}"
    )
    print(f"{'steps per frame':>15} {'frames drawn/s':>15} {'frames sent/s':>14} {'steps/s':>8}")
    for row in rows:
        print(
            f"{row['steps_per_frame']:>15} {row['frames_drawn_per_second']:>15.1f} "
            f"{row['frames_sent_per_second']:>14.1f} {row['steps_per_second']:>8.1f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results = {
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "problem": "ring8, default networks (MLP 128x3 for G and D), batch 128",
        "seconds": args.seconds,
        "load_average": load,
        **costs,
        "rows": rows,
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results in {args.out}")


if __name__ == "__main__":
    main()
