"""gankit lab: its estimates against known answers, its server without a browser, and the page
as a person uses it, in headless Chromium (skipped where Chromium and its driver are absent)."""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import uvicorn

from gankit.cli import main
from gankit.config import load_config
from gankit.errors import ConfigError
from gankit.lab.app import STATIC, bind, create_app
from gankit.lab.estimates import (
    js_estimate,
    kde_log_density,
    kernel_width,
    value_estimate,
)
from gankit.lab.history import ThinnedHistory
from gankit.lab.problems import PROBLEMS, build_problem
from gankit.lab.session import Session
from gankit.lab.settings import change
from gankit.objectives import OBJECTIVES
from gankit.theory.exact import (
    integrate,
    integration_grid,
    jensen_shannon,
    optimal_discriminator,
)
from gankit.theory.problems import gaussian

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


# -- the estimates ---------------------------------------------------------------------------


def test_d_star_and_js_of_two_gaussians_match_their_exact_values() -> None:
    """p_data = N(0, 1), G's samples from N(1, 1): D*(x) = sigmoid(1/2 - x) and JS by quadrature."""
    p_data, p_g = gaussian(0.0, 1.0), gaussian(1.0, 1.0)
    rng = torch.Generator().manual_seed(0)
    real, fakes = p_data.sample(2000, rng), p_g.sample(2000, rng)
    width = kernel_width(fakes, 1e-3)
    x = torch.linspace(-1.0, 2.0, 61, dtype=torch.float64)[:, None]  # where both have mass
    d_star = optimal_discriminator(p_data.log_prob(x), kde_log_density(fakes, x, width))
    assert (d_star - torch.sigmoid(0.5 - x[:, 0])).abs().max() < 0.05
    grid = integration_grid(p_data, p_g)
    exact = jensen_shannon(p_data.log_prob(grid), p_g.log_prob(grid), grid)  # 0.1114
    assert js_estimate(p_data, real, fakes, width) == pytest.approx(exact, abs=0.02)


def test_js_is_near_zero_for_p_data_itself_and_log_2_for_disjoint_supports() -> None:
    p_data = gaussian(0.0, 1.0)
    rng = torch.Generator().manual_seed(1)
    real, same = p_data.sample(1000, rng), p_data.sample(1000, rng)
    assert abs(js_estimate(p_data, real, same, kernel_width(same, 1e-3))) < 0.01
    far = gaussian(40.0, 1.0).sample(1000, rng)
    assert js_estimate(p_data, real, far, kernel_width(far, 1e-3)) == pytest.approx(math.log(2))


def test_the_kernel_density_is_a_density_and_follows_narrow_modes() -> None:
    ring = build_problem("ring8", load_config())
    samples = ring.sample(384, torch.Generator().manual_seed(2))
    width = kernel_width(samples, 1e-3)
    assert width < 0.02  # ring8's modes have std 0.01; one bump's rule would give ~0.25
    line = gaussian(0.0, 1.0).sample(500, torch.Generator().manual_seed(3))
    grid = integration_grid(gaussian(0.0, 1.0))
    assert integrate(kde_log_density(line, grid, kernel_width(line, 1e-3)).exp(), grid) == (
        pytest.approx(1.0, abs=1e-3)
    )


def test_value_of_an_undecided_d_is_minus_log_4() -> None:
    zeros = torch.zeros(10)
    assert value_estimate(zeros, zeros) == pytest.approx(-math.log(4))
    # log D from logits: finite where log(sigmoid(l)) would underflow to -inf
    assert math.isfinite(value_estimate(torch.full((4,), -200.0), torch.full((4,), 200.0)))


def test_a_thinned_history_stays_bounded_and_evenly_spread() -> None:
    history: ThinnedHistory[int] = ThinnedHistory(8)
    for item in range(1000):
        history.append(item)
    assert len(history) <= 8
    assert history.items == list(range(0, 1000, history.stride))[: len(history)]
    assert history.items[0] == 0 and history.items[-1] > 800


def test_every_problem_has_an_exact_density() -> None:
    for name in PROBLEMS:
        points = [[0.0, 0.0], [0.5, 0.5], [1.0, 0.0]] if name == "drawn" else None
        density = build_problem(name, load_config(), points)
        x = density.sample(50, torch.Generator().manual_seed(0))
        assert density.log_prob(x).isfinite().all()


# -- the settings ----------------------------------------------------------------------------


def test_controls_are_validated_as_the_command_line_validates_them() -> None:
    values, config = change({}, "generator.lr", "2e-3")
    assert values == {"generator.lr": 2e-3} and config.generator.lr == 2e-3
    with pytest.raises(ConfigError, match=r"'generator.lr' must be > 0"):
        change({}, "generator.lr", "-1")
    with pytest.raises(ConfigError, match="must be one of nonsaturating, minimax"):
        change({}, "loss", "wasserstein")
    with pytest.raises(ConfigError, match="unknown control 'steps'"):
        change({}, "steps", "10")
    with pytest.raises(ConfigError, match="at most 2048"):
        change({}, "batch_size", "100000")
    with pytest.raises(ConfigError, match="multiple of pack"):
        change({}, "pack", "3")


# -- the server, without a browser ------------------------------------------------------------


class Http:
    """Requests to the lab's server, answered as (status, text) or (status, JSON)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str) -> tuple[int, str]:
        return self._send(urllib.request.Request(self.url + path))

    def post(self, path: str, body: dict | bytes) -> tuple[int, dict]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        status, text = self._send(urllib.request.Request(self.url + path, data, headers))
        return status, json.loads(text)

    @staticmethod
    def _send(request: urllib.request.Request) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


@pytest.fixture
def client():
    """The lab's app on a real server (uvicorn, in a thread, on a free port), and its session."""
    session = Session()
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(session), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield Http(f"http://127.0.0.1:{sock.getsockname()[1]}"), session
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def frame(session: Session) -> dict:
    return json.loads(session.latest()[2])


def test_the_page_and_its_scripts_are_served_and_fetch_nothing_from_the_internet(client) -> None:
    http, _ = client
    status, page = http.get("/")
    assert status == 200 and "gankit lab" in page
    for name in ("draw.js", "lab.js", "lab.css"):
        assert http.get(f"/static/{name}")[0] == 200
    for path in STATIC.iterdir():
        assert "http://" not in path.read_text() and "https://" not in path.read_text(), path


def test_one_d_step_moves_d_and_leaves_g_and_one_g_step_the_reverse(client) -> None:
    http, session = client
    before = frame(session)
    assert http.post("/command", {"name": "step_d"}) == (200, {"ok": True})
    after_d = frame(session)
    assert after_d["stats"]["d_updates"] == 1 and after_d["stats"]["step"] == 0
    assert after_d["fakes"] == before["fakes"] and after_d["manifold"] == before["manifold"]
    assert after_d["d"] != before["d"]
    http.post("/command", {"name": "step_g"})
    after_g = frame(session)
    assert after_g["d"] == after_d["d"] and after_g["fakes"] != after_d["fakes"]
    assert after_g["stats"]["step"] == 1


def test_a_live_change_keeps_the_networks_and_a_structural_one_starts_over(client) -> None:
    http, session = client
    http.post("/command", {"name": "step"})
    trainer = session.trainer
    answer = http.post("/control", {"key": "discriminator.lr", "value": "0.002"})[1]
    assert answer["ok"] and not answer["reset"] and "next step" in answer["message"]
    assert session.trainer is trainer
    assert [g["lr"] for g in trainer.d_optimizer.param_groups] == [0.002]
    assert [g["lr"] for g in trainer.g_optimizer.param_groups] == [5e-4]
    http.post("/control", {"key": "loss", "value": "minimax"})
    assert trainer.objective is OBJECTIVES["minimax"] and frame(session)["stats"]["step"] == 1
    answer = http.post("/control", {"key": "generator.hidden", "value": "64,64"})[1]
    assert answer["reset"] and "starts over" in answer["message"]
    assert session.trainer is not trainer and frame(session)["stats"]["step"] == 0
    assert session.trainer.config.loss == "minimax"  # earlier choices stay
    assert session.trainer.config.discriminator.lr == 0.002


def test_bad_input_gets_one_line_and_the_server_keeps_running(client) -> None:
    http, session = client
    status, bad = http.post("/control", {"key": "generator.lr", "value": "fast"})
    assert status == 400
    assert bad == {"error": "config key 'generator.lr' expects a number, got 'fast'"}
    assert http.post("/command", {"name": "jump"})[0] == 400
    assert "not JSON" in http.post("/control", b"{")[1]["error"]
    assert http.post("/speed", {"steps": 7})[0] == 400
    status, drawn = http.post("/problem", {"name": "drawn", "points": [[9, 9]] * 5})
    assert status == 400 and "[-1.5, 1.5]" in drawn["error"]
    assert http.post("/command", {"name": "step"})[1] == {"ok": True}
    assert frame(session)["stats"]["step"] == 1


def test_a_drawn_distribution_and_a_1d_problem_train(client) -> None:
    http, session = client
    stroke = [[x, math.sin(3 * x)] for x in np.linspace(-1, 1, 50).tolist()]
    assert http.post("/problem", {"name": "drawn", "points": stroke})[1]["ok"]
    http.post("/command", {"name": "step"})
    assert session.density.num_modes == 50 and frame(session)["stats"]["js"] > 0
    http.post("/problem", {"name": "mixture1d"})
    http.post("/command", {"name": "step"})
    shown = frame(session)
    assert len(shown["p_g"]) == len(shown["d"]) and len(shown["fakes"][0]) == 1
    assert shown["stats"]["modes"] is not None


def test_a_saved_lab_run_is_an_ordinary_run_folder(client, tmp_path) -> None:
    http, _ = client
    status, empty = http.post("/save", {"out": str(tmp_path / "none")})
    assert status == 400 and "nothing trained" in empty["error"]
    http.post("/problem", {"name": "ring"})  # one of GAN Lab's shapes, unknown to gankit
    http.post("/speed", {"steps": 5, "slow": False})
    for _ in range(4):
        http.post("/command", {"name": "step"})
    out = tmp_path / "lab-run"
    assert http.post("/save", {"out": str(out)})[1]["path"] == str(out)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert main(["sample", str(out), "-n", "7", "-o", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (7, 2)
    assert main(["report", str(out)]) == 0 and (out / "report.html").is_file()
    assert main(["evaluate", str(out)]) == 0  # the data: samples of the exact density
    status, again = http.post("/save", {"out": str(out)})
    assert status == 400 and "already exists" in again["error"]


# -- the command line ------------------------------------------------------------------------


def test_a_port_in_use_is_one_line_and_exit_2(capsys) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["lab", "--no-browser", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"port {port} on 127.0.0.1 is in use" in err
    assert f"--port {port + 1}" in err


def test_the_command_line_stays_light() -> None:
    code = (
        "import sys, gankit.cli; "
        "print(sorted({'torch', 'starlette', 'uvicorn'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the page, in a browser ------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab_page():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("the browser tests need Debian's chromium and chromium-driver (apt install)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    process = subprocess.Popen(
        [sys.executable, "-m", "gankit.cli", "lab", "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    profile = tempfile.mkdtemp(prefix="gankit-lab-chromium-")
    driver = None
    try:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for argument in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1400,1000",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(argument)
        # Chromium starts while the lab loads torch; then the page.
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        line = process.stdout.readline()
        assert "http://127.0.0.1:" in line, process.stderr.read()
        url = line.split()[2]
        driver.get(url)
        yield driver, url
    finally:
        if driver is not None:
            driver.quit()
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, condition: str, seconds: float = 20.0):
    """Poll the page until the JavaScript expression ``condition`` is truthy."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return {condition};")
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"the page never reached: {condition}")


def layer(driver, canvas: str) -> str:
    """What one canvas of the page shows, as a PNG data URL."""
    return driver.execute_script(f"return document.getElementById('{canvas}').toDataURL();")


def settled(driver) -> None:
    wait_for(driver, "window.lab && lab.frame && lab.scene && lab.shown === lab.frame")


def test_the_page_trains_live_and_answers_its_controls(lab_page) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    driver, _ = lab_page
    settled(driver)
    samples, heat = layer(driver, "samples-d"), layer(driver, "heat-d")
    picture = driver.get_screenshot_as_png()

    driver.find_element(By.ID, "play").click()
    wait_for(driver, "lab.frame.stats.step >= 15")
    driver.find_element(By.ID, "play").click()  # pause
    wait_for(driver, "!lab.frame.playing")
    settled(driver)
    assert layer(driver, "samples-d") != samples, "G's samples did not move while playing"
    assert layer(driver, "heat-d") != heat, "D's heatmap did not change while playing"
    assert driver.get_screenshot_as_png() != picture

    Select(driver.find_element(By.ID, "loss")).select_by_visible_text("minimax")
    wait_for(driver, "document.getElementById('message').textContent.includes('minimax')")
    settled(driver)
    d_updates = driver.execute_script("return lab.frame.stats.d_updates;")
    step = driver.execute_script("return lab.frame.stats.step;")
    samples, heat = layer(driver, "samples-d"), layer(driver, "heat-d")
    driver.find_element(By.ID, "step-d").click()
    wait_for(driver, f"lab.frame.stats.d_updates === {d_updates + 1}")
    settled(driver)
    assert driver.execute_script("return lab.frame.stats.step;") == step
    assert driver.execute_script("return lab.frame.loss;") == "minimax"
    assert layer(driver, "samples-d") == samples, "G's samples moved on a D step"
    assert layer(driver, "heat-d") != heat, "D did not change on a D step"

    rate = driver.find_element(By.ID, "g-lr")
    rate.clear()  # WebDriver's clear fires a change of its own: the empty field is refused first
    rate.send_keys("-1", Keys.TAB)
    message = driver.find_element(By.ID, "message")
    wait_for(driver, "document.getElementById('message').textContent.includes('got -1')")
    assert message.get_attribute("class") == "error"
    assert message.text == "config key 'generator.lr' must be > 0; got -1.0"
    driver.find_element(By.ID, "step").click()  # the server goes on
    wait_for(driver, f"lab.frame.stats.step === {step + 1}")


def test_the_exported_replay_opens_without_a_server_and_its_slider_moves(
    lab_page, tmp_path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, url = lab_page
    with urllib.request.urlopen(url + "replay") as response:
        html = response.read().decode()
    assert "http://" not in html and "https://" not in html
    path = tmp_path / "replay.html"
    path.write_text(html)
    driver.get(path.as_uri())
    wait_for(driver, "window.shownFrame === 0")
    frames = driver.execute_script("return FRAMES.length;")
    assert frames >= 15
    first = layer(driver, "samples-d")
    slider = driver.find_element(By.ID, "slider")
    slider.send_keys(Keys.END)
    wait_for(driver, f"window.shownFrame === {frames - 1}")
    assert layer(driver, "samples-d") != first
    slider.send_keys(Keys.HOME, Keys.RIGHT)
    wait_for(driver, "window.shownFrame === 1")
    assert "ring8" in driver.find_element(By.TAG_NAME, "header").text


def test_a_training_gone_to_nan_stops_with_a_message_until_reset(client) -> None:
    http, session = client
    for key, value in (("loss", "wgan-gp"), ("generator.lr", "1e6"), ("discriminator.lr", "1e6")):
        http.post("/control", {"key": key, "value": value})
    refused = None
    for _ in range(20):
        status, answer = http.post("/command", {"name": "step"})
        if status == 400:
            refused = answer["error"]
            break
    assert refused == "the training went to NaN or Inf; lower the learning rates and press reset"
    shown = frame(session)  # still strict JSON: no NaN or Infinity reaches the page
    assert "NaN or Inf" in shown["notice"]
    json.loads(session.latest()[2], parse_constant=lambda name: pytest.fail(name))
    assert http.post("/command", {"name": "reset"}) == (200, {"ok": True})
    http.post("/control", {"key": "generator.lr", "value": "1e-4"})
    assert http.post("/command", {"name": "step"}) == (200, {"ok": True})
