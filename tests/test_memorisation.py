"""Distances to the closest training record, on constructed data where the answer is known."""

import pytest
import torch

from gankit.metrics.memorisation import memorisation, nearest_records


def _cloud(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 1, 4, 4, generator=torch.Generator().manual_seed(seed))


def test_nearest_records_finds_each_querys_closest_row() -> None:
    records = torch.tensor([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]])
    found = nearest_records(torch.tensor([[3.0, 4.5], [9.0, 0.0], [0.0, 0.0]]), records)
    assert found.index.tolist() == [1, 2, 0]
    assert found.distance.tolist() == pytest.approx([0.5, 1.0, 0.0])


def test_copied_and_nearly_copied_samples_are_flagged_and_fresh_ones_are_not() -> None:
    train, heldout = _cloud(200, 0), _cloud(200, 1)
    fresh = _cloud(300, 2)  # drawn like the real data, as a generalising G would
    copies = train[:3].clone()
    near = train[3:5] + 0.01 * _cloud(2, 3)
    synthetic = torch.cat([fresh, copies, near])
    result = memorisation(synthetic, train, heldout)
    assert result["exact_copies"] == 3
    assert result["near_copies"] >= 5  # every copy and near copy is closer than any held-out
    assert result["near_copies"] <= 5 + 3  # and hardly any fresh draw is
    assert result["dcr_synthetic_min"] == 0
    assert 0.9 < result["dcr_ratio"] < 1.1  # fresh draws sit as far away as held-out ones


def test_fresh_draws_fall_under_every_held_out_record_at_about_the_chance_rate() -> None:
    shares = []
    for draw in range(10):
        train, heldout = _cloud(100, 10 * draw), _cloud(49, 10 * draw + 1)
        result = memorisation(_cloud(5000, 10 * draw + 2), train, heldout)
        shares.append(result["near_copy_share"])
    assert result["near_copy_share_by_chance"] == 1 / 50
    # each held-out set's minimum sets its own rate; over ten sets the mean nears 1/50
    assert 0.008 < sum(shares) / len(shares) < 0.035


def test_a_memorising_generator_shows_a_small_dcr_ratio() -> None:
    train, heldout = _cloud(100, 0), _cloud(100, 1)
    replayed = train[torch.randint(100, (400,), generator=torch.Generator().manual_seed(4))]
    result = memorisation(replayed + 0.05 * _cloud(400, 5), train, heldout)
    assert result["near_copy_share"] == 1.0
    assert result["exact_copies"] == 0
    assert result["dcr_ratio"] < 0.1
