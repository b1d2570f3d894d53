import json
import math

import pytest
import torch

from gankit.cli import main
from gankit.theory.exact import (
    integrate,
    integration_grid,
    jensen_shannon,
    log_optimal_discriminator,
    optimal_discriminator,
    value_at_optimum,
)
from gankit.theory.optimal_d import FAST, PROBLEMS, compare, train_discriminator
from gankit.theory.problems import BIMODAL, Problem, gaussian
from gankit.theory.refine import check_problem
from gankit.theory.saturation import confident_discriminator, loss_slopes
from gankit.theory.training import FAST_SETTINGS, train_with_snapshots
from gankit.theory.value import exact_value

LOG_4 = math.log(4)


def exact(p_data, p_g):
    grid = integration_grid(p_data, p_g)
    log_p_data, log_p_g = p_data.log_prob(grid), p_g.log_prob(grid)
    return grid, log_p_data, log_p_g


@pytest.mark.parametrize(
    ("mean", "value", "js"),
    [(1.0, -1.163451, 0.111421), (2.0, -0.712633, 0.336831), (4.0, -0.120854, 0.632720)],
)
def test_the_value_at_d_star_matches_the_reference_values(mean, value, js) -> None:
    row = exact_value(Problem(gaussian(0.0, 1.0), gaussian(mean, 1.0)))
    assert row["value"] == pytest.approx(value, abs=1e-5)
    assert row["js"] == pytest.approx(js, abs=1e-5)
    assert row["minus_log_4_plus_2_js"] == pytest.approx(value, abs=1e-5)


@pytest.mark.parametrize("density", [gaussian(0.0, 1.0), BIMODAL])
def test_equal_densities_give_d_star_one_half_and_minus_log_4(density) -> None:
    grid, log_p_data, log_p_g = exact(density, density)
    assert torch.equal(optimal_discriminator(log_p_data, log_p_g), torch.full_like(log_p_g, 0.5))
    assert value_at_optimum(log_p_data, log_p_g, grid) == pytest.approx(-LOG_4, abs=1e-12)
    assert jensen_shannon(log_p_data, log_p_g, grid) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("mean", [12.0, 40.0])  # at 40 the densities underflow to 0 in float64
def test_barely_overlapping_densities_stay_finite_and_exact(mean) -> None:
    grid, log_p_data, log_p_g = exact(gaussian(0.0, 1.0), gaussian(mean, 1.0))
    assert (log_p_data.exp() == 0).any() == (mean == 40.0)
    value = value_at_optimum(log_p_data, log_p_g, grid)
    js = jensen_shannon(log_p_data, log_p_g, grid)
    assert math.isfinite(value) and math.isfinite(js)
    assert value == pytest.approx(0.0, abs=1e-7)
    assert js == pytest.approx(math.log(2), abs=1e-7)


@pytest.mark.parametrize("p_g", [gaussian(0.0, 1.5), gaussian(2.0, 0.5), gaussian(0.3, 3.0)])
def test_the_identity_holds_on_a_mixture(p_g) -> None:
    row = exact_value(Problem(BIMODAL, p_g))
    assert row["gap"] < 1e-10
    assert 0 < row["js"] < math.log(2)


def test_d_star_maximises_the_value() -> None:
    grid, log_p_data, log_p_g = exact(BIMODAL, gaussian(0.0, 1.5))
    best = value_at_optimum(log_p_data, log_p_g, grid)
    for shift in (-0.3, 0.1, 0.3):  # D = sigmoid(logit D* + shift)
        log_d, log_one_minus_d = log_optimal_discriminator(log_p_data + shift, log_p_g)
        worse = integrate(log_p_data.exp() * log_d + log_p_g.exp() * log_one_minus_d, grid)
        assert worse < best


def test_a_trained_discriminator_approaches_d_star() -> None:
    problem = PROBLEMS["shift"]
    result = compare(problem, train_discriminator(problem, FAST))
    assert result["mean_abs_error"] < 0.02
    assert result["value_quadrature"] <= result["value_exact"]
    assert result["value_monte_carlo"] == pytest.approx(
        result["value_exact"], abs=5 * result["value_monte_carlo_stderr"] + 0.005
    )


def test_the_loss_slopes_are_d_and_one_minus_d() -> None:
    logits = torch.linspace(-10.0, 5.0, 31)
    slopes = loss_slopes(logits)
    assert torch.allclose(slopes["minimax"], logits.sigmoid(), rtol=1e-5)
    assert torch.allclose(slopes["nonsaturating"], (-logits).sigmoid(), rtol=1e-5)


def test_the_minimax_gradient_vanishes_when_d_rejects_the_fakes() -> None:
    measurements, final_logits = confident_discriminator({0, 300})
    first, last = measurements
    assert first.minimax / first.nonsaturating > 0.5  # D undecided: comparable gradients
    assert last.d_fake < 5e-3
    assert last.minimax / last.nonsaturating < 0.01
    assert last.nonsaturating > first.nonsaturating
    assert final_logits.mean().item() == pytest.approx(last.logit, abs=1e-5)


def test_training_snapshots_track_js_and_value() -> None:
    snapshots, floor, _ = train_with_snapshots(FAST_SETTINGS, snapshots=3)
    assert [s.step for s in snapshots] == [0, 50, 100, 150]
    assert 0 < floor < 0.01
    assert all(0 <= s.js <= math.log(2) + 1e-9 for s in snapshots)
    assert snapshots[-1].js < snapshots[0].js
    assert all(math.isfinite(s.value_monte_carlo) for s in snapshots)


def test_rejection_by_d_star_leaves_samples_of_p_data(tmp_path) -> None:
    """p_data = p_g exp(l*): samples kept by exact rejection score JS at the estimator's floor."""
    rows = {row["method"]: row for row in check_problem("bimodal", PROBLEMS["bimodal"], FAST)}
    plain, exact_d, trained = rows["nothing (plain G)"], rows["exact D*"], rows["trained D"]
    floor = exact_d["floor"]
    assert plain["js"] > 100 * floor
    assert exact_d["js"] < 2 * floor
    assert trained["js"] < plain["js"] / 10
    assert 0.2 < exact_d["acceptance"] < 0.3  # 1/M, M = max p_data/p_g: about 0.24 here


def test_theory_value_writes_json_and_figures(tmp_path, capsys) -> None:
    path, out = tmp_path / "theory.json", tmp_path / "figures"
    assert main(["theory", "value", "--json", str(path), "--out", str(out)]) == 0
    results = json.loads(path.read_text())
    rows = results["value"]["rows"]
    assert rows[1]["p_g"] == "N(1, 1)"
    assert rows[1]["value"] == pytest.approx(-1.163451, abs=1e-5)
    assert (out / "value.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "-1.163451" in printed and "0.111421" in printed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["theory", "valeu"], "unknown check 'valeu'; did you mean 'value'?"),
        (["theory", "value", "--json", "."], "is a folder"),
    ],
)
def test_theory_bad_input_exits_2_with_one_line(argv, message, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gankit: error: ")
    assert message in err
    assert err.count("\n") == 1
