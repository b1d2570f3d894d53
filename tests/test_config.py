import pytest

from gankit.config import Config, load_config
from gankit.errors import ConfigError


def test_defaults_have_the_contract_keys() -> None:
    config = load_config()
    assert isinstance(config, Config)
    assert (config.data, config.seed) == ("ring8", 0)


@pytest.mark.parametrize("steps", ["0", "-1"])
def test_a_run_of_no_steps_is_refused_naming_the_key(steps) -> None:
    with pytest.raises(ConfigError, match=f"config key 'steps' .*{steps}") as error:
        load_config(overrides=[f"steps={steps}"])
    assert "\n" not in str(error.value)


def test_dotted_overrides_reach_nested_settings_with_their_types() -> None:
    config = load_config(
        overrides=[
            "generator.lr=1e-4",
            "generator.hidden=64,32",
            "steps=7",
            "noise.prior=uniform",
            "progress=false",
            "data=grid25",
        ]
    )
    assert config.generator.lr == 1e-4
    assert config.generator.hidden == [64, 32]
    assert config.discriminator.hidden == [128, 128, 128]  # sections are independent
    assert config.steps == 7
    assert config.noise.prior == "uniform"
    assert config.progress is False
    assert config.data == "grid25"


def test_file_then_overrides(tmp_path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("data: grid25\nsteps: 100\ndiscriminator:\n  lr: 0.001\n  hidden: [16]\n")
    config = load_config(path, ["steps=5"])
    assert (config.data, config.steps) == ("grid25", 5)
    assert config.discriminator.lr == 0.001
    assert config.discriminator.hidden == [16]


def test_a_written_config_reads_back_the_same(tmp_path) -> None:
    config = load_config(overrides=["mixture.means=[-1,1]", "seed=3"])
    path = tmp_path / "config.yaml"
    path.write_text(config.to_yaml())
    assert load_config(path) == config


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["stepz=3"], "unknown config key 'stepz'; did you mean 'steps'?"),
        (["generator.lrr=1"], "did you mean 'generator.lr'?"),
        (["steps=ten"], "config key 'steps' expects an integer or auto, got 'ten'"),
        (["generator.lr=fast"], "config key 'generator.lr' expects a number"),
        (["generator.lr=-1"], "config key 'generator.lr' must be > 0"),
        (["loss=wasserstein"], "config key 'loss' must be one of nonsaturating, minimax"),
        (["generator=3"], "config key 'generator' is a section"),
        (["steps.x=1"], "config key 'steps' takes a single value"),
        (["steps"], "expected KEY=VALUE, got 'steps'"),
        (["mixture.means=1,2,3"], "'mixture.means' must hold 2 x mixture.dim = 2 numbers"),
        (["mixture.stds=[1]"], "must be non-empty lists of the same length"),
        (["mixture.dim=2"], "'mixture.means' must hold 2 x mixture.dim = 4 numbers"),
        (["generator.betas=0.5"], "config key 'generator.betas' must be two numbers"),
        (["ema=1.5"], "config key 'ema' must be < 1"),
        (["progress=maybe"], "config key 'progress' expects true or false"),
        (["generator.lr=nan"], "expects a finite number"),
    ],
)
def test_bad_settings_name_the_key_and_the_fix(overrides, message) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(overrides=overrides)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_bad_file_values_are_type_checked(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("steps: 1.5\n")
    with pytest.raises(ConfigError, match="'steps' expects an integer"):
        load_config(path)
    path.write_text("steps: true\n")
    with pytest.raises(ConfigError, match="'steps' expects an integer"):
        load_config(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [("steps: [1, 2\n", "not valid YAML/JSON"), ("- 1\n- 2\n", "must hold a mapping")],
)
def test_unreadable_config_files(tmp_path, content, message) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_config_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
