"""Defaults per kind of data, settings a model does not use, and where each setting came from."""

import numpy as np
import pytest
import yaml

from gankit.cli import main
from gankit.config import BUILT_IN_DATA, KIND_DEFAULTS, data_kind, load_config
from gankit.data import IMAGE_SETS, MIXTURES
from gankit.data.tables import BUILT_IN_TABLES
from gankit.errors import ConfigError


def test_every_built_in_name_is_loaded_by_the_data_layer() -> None:
    assert set(BUILT_IN_DATA) == set(MIXTURES) | set(IMAGE_SETS) | set(BUILT_IN_TABLES)


def test_images_get_the_image_defaults_and_vectors_the_mixtures(tmp_path) -> None:
    digits = load_config(overrides=["data=digits"])
    assert (digits.model, digits.conditional, digits.steps) == ("dcgan", True, 3000)
    assert digits.sources["steps"] == "default for labelled images"
    ring = load_config(overrides=["data=ring8"])
    assert (ring.model, ring.steps) == ("auto", 24000)
    assert "steps" not in ring.sources
    folder = tmp_path / "pictures"
    folder.mkdir()
    assert data_kind(str(folder)) == "images"
    (folder / "cats").mkdir()
    assert data_kind(str(folder)) == "labelled images"
    archive = tmp_path / "set.npz"
    np.savez(archive, images=np.zeros((4, 8, 8), np.uint8))
    unlabelled = load_config(overrides=[f"data={archive}"])
    assert unlabelled.model == "dcgan" and not unlabelled.conditional


def test_what_a_user_sets_wins_over_the_kind_defaults(tmp_path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("data: digits\nsteps: 700\n")
    config = load_config(path, ["batch_size=32"])
    assert (config.steps, config.batch_size, config.noise.dim) == (700, 32, 32)
    assert config.sources["steps"] == f"config file {path}"
    assert config.sources["batch_size"] == "command line"
    assert config.sources["noise.dim"] == "default for labelled images"
    assert config.noise.dim == KIND_DEFAULTS["labelled images"]["noise.dim"]


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["data=digits", "generator.hidden=[64]"], "generator.hidden"),
        (
            ["data=digits", "model=resnet", "discriminator.spectral_norm=true"],
            "discriminator.spectral_norm",
        ),
        (["data=ring8", "generator.width=16"], "generator.width"),
        (["data=ring8", "augment.policy=[color]"], "augment.policy"),
        (["data=digits", "mixture.means=[0,1]"], "mixture.means"),
    ],
)
def test_a_setting_the_model_does_not_use_is_refused(overrides, key) -> None:
    with pytest.raises(ConfigError, match=f"config key '{key}' is not used by model="):
        load_config(overrides=overrides)


def test_the_refusal_is_one_line_from_the_command_line(capsys) -> None:
    assert main(["train", "data=digits", "generator.activation=tanh"]) == 2
    err = capsys.readouterr().err
    assert "'generator.activation' is not used by model=dcgan" in err
    assert err.count("\n") == 1


def test_the_resolved_config_reads_back_as_itself() -> None:
    for data in BUILT_IN_DATA:
        config = load_config(overrides=[f"data={data}", "seed=3"])
        again = load_config(base=yaml.safe_load(config.to_yaml()))
        assert again == config
