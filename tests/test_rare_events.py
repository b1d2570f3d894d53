"""The rare-event study: the rare class cut in training only, nested over prevalences; SMOTENC
told the categorical columns; thresholds chosen on validation rows only; conditional sampling
of one class; the study end to end through the command line, resumed; its bad input."""

import json

import numpy as np
import pandas as pd
import pytest

from gankit.cli import main
from gankit.config import load_config
from gankit.data import load_data
from gankit.data.split import rare_rows
from gankit.errors import DataError
from gankit.studies import detectors, rare_cells
from gankit.studies.config import load_study_config

FAST_CELL = [
    "steps=20",
    "eval_samples=200",
    "study.seeds=2",
    "study.prevalence=[0.05]",
    "study.classifiers=[logistic]",
    "study.jobs=1",
]
REGIMES = "study.regimes=[real,real+class_weights,real+random,real+smote,real+gan,gan]"


def _rare(data: str, *settings: str):
    return load_data(load_config(None, [f"data={data}", *settings]))


def test_the_rare_class_is_cut_in_training_only_and_nested_over_prevalences():
    natural = _rare("breast_cancer")
    kept = {}
    for prevalence in (0.01, 0.02, 0.05):
        data = _rare("breast_cancer", "rare.label=malignant", f"rare.prevalence={prevalence}")
        pd.testing.assert_frame_equal(data.heldout, natural.heldout)  # untouched
        rare = data.frame[data.frame["target"] == "malignant"]
        others = data.frame[data.frame["target"] != "malignant"]
        assert others.index.equals(natural.frame[natural.frame["target"] != "malignant"].index)
        assert len(rare) == round(prevalence * len(others) / (1 - prevalence))
        kept[prevalence] = set(rare.index)
    assert kept[0.01] < kept[0.02] < kept[0.05]


def test_the_validation_rows_come_from_the_rare_training_set_of_each_class():
    data = _rare("penguins", "rare.label=Chinstrap", "rare.prevalence=0.05", "rare.validation=0.2")
    whole = _rare("penguins", "rare.label=Chinstrap", "rare.prevalence=0.05")
    assert set(data.frame.index).isdisjoint(data.validation.index)
    assert set(data.frame.index) | set(data.validation.index) == set(whole.frame.index)
    assert set(data.validation["species"]) == {"Adelie", "Chinstrap", "Gentoo"}


def test_rare_rows_refuses_too_few_rare_rows_naming_the_prevalence():
    is_rare = np.array([True] * 10 + [False] * 500)
    with pytest.raises(DataError, match=r"prevalence of 0\.002 keeps 1 of the 10 .* at least 2"):
        rare_rows(is_rare, 0.002, 0, 0.0, "class 'x'")
    training, validation = rare_rows(is_rare, 0.01, 0, 0.2, "class 'x'")
    assert is_rare[training].sum() >= 2 and is_rare[validation].sum() >= 1


def test_smotenc_is_given_the_categorical_columns(monkeypatch):
    import imblearn.over_sampling

    seen = {}

    class Recording(imblearn.over_sampling.SMOTENC):
        def fit_resample(self, x, y):
            seen["columns"] = [x.columns[i] for i in self.categorical_features]
            return super().fit_resample(x, y)

    monkeypatch.setattr(imblearn.over_sampling, "SMOTENC", Recording)
    data = _rare("penguins", "rare.label=Chinstrap", "rare.prevalence=0.05")
    view = rare_cells._view(data, "Chinstrap")
    real = view.rows("train")
    study = load_study_config(overrides=["data=penguins", "study.regimes=[real,real+smote]"]).study
    sets = rare_cells._training_sets(["real", "real+smote"], real, 40, view, None, None, study, 0)
    assert sorted(seen["columns"]) == ["island", "sex", "year"]  # year: 3 integer values
    smote = sets["real+smote"]
    assert smote.is_rare.sum() == real.is_rare.sum() + 40
    assert str(smote.features["island"].dtype) == "category"


def test_the_threshold_is_chosen_on_the_validation_rows_never_the_heldout_rows():
    validation = (np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.6, 0.9]))  # best at 0.6
    heldout = (np.array([0, 1, 1, 0]), np.array([0.5, 0.55, 0.7, 0.65]))
    scores = detectors.detection_scores(validation, heldout)
    # at 0.6 the held-out predictions are [0, 0, 1, 1]: one of two right, F1 0.5; a threshold
    # chosen on these held-out rows (0.55) would have given F1 0.8
    assert scores["f1"] == pytest.approx(0.5)
    flipped = (heldout[0], heldout[1][::-1].copy())
    assert detectors.best_f1_threshold(*validation) == 0.6
    assert detectors.detection_scores(validation, flipped)["f1"] != pytest.approx(0.8)


def test_a_cell_picks_thresholds_from_its_validation_rows(monkeypatch, tmp_path):
    chosen = []
    real_threshold = detectors.best_f1_threshold

    def recording(is_rare, scores):
        chosen.append(len(is_rare))
        return real_threshold(is_rare, scores)

    monkeypatch.setattr(detectors, "best_f1_threshold", recording)
    settings = load_study_config(
        overrides=["data=penguins", *FAST_CELL, "study.regimes=[real,real+gan]"]
    )
    from gankit.studies.rare_events import rare_study_data

    settings, _ = rare_study_data(settings)
    cell = rare_cells.run_rare_cell(settings, 0.05, 0, tmp_path)
    validation = cell["validation_rows"]["rare"] + cell["validation_rows"]["other"]
    heldout = cell["heldout_rows"]["rare"] + cell["heldout_rows"]["other"]
    assert chosen == [validation, validation] and validation != heldout


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits") / "run"
    argv = ["train", "data=digits", "steps=30", "eval_samples=100", "progress=false"]
    assert main([*argv, "tensorboard=false", "--out", str(out)]) == 0
    return out


def test_conditional_sampling_of_images_returns_only_the_asked_class(digits_run, tmp_path):
    from gankit.run import load

    run = load(digits_run)
    _, labels = run.generate(50, 0, condition={"class": "3"})
    assert labels.tolist() == [3] * 50
    out = tmp_path / "threes.npz"
    assert main(["sample", str(digits_run), "-n", "12", "-o", str(out), "--condition", "3"]) == 0
    with np.load(out) as saved:
        assert saved["labels"].tolist() == [3] * 12


def test_the_study_runs_end_to_end_and_resumes(tmp_path, capsys):
    out = tmp_path / "study"
    argv = ["augment", "data=penguins", *FAST_CELL, REGIMES, "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Does real+GAN beat both real and real+SMOTE" in printed
    study = json.loads((out / "study.json").read_text())
    assert study["settings"]["rare class"] == "species=Chinstrap"  # the rarest by default
    regimes = {row["regime"] for row in study["rows"]}
    assert regimes == {"real", "real+class_weights", "real+random", "real+smote", "real+gan", "gan"}
    for name in ("table.md", "pr_curves.png", "gains.png"):
        assert (out / name).is_file()
    cell = json.loads((out / "prevalence-0.05" / "seed-0" / "cell.json").read_text())
    assert cell["rows"]["rare"] + cell["rows"]["added"] == cell["rows"]["other"]  # balanced
    assert cell["memorisation"]["nearest"]  # seed 0 lists its closest pairs
    assert (out / "prevalence-0.05" / "seed-0" / "gan" / "config.yaml").is_file()

    seed1 = out / "prevalence-0.05" / "seed-1"
    (seed1 / "cell.json").unlink()
    done = (out / "prevalence-0.05" / "seed-0" / "cell.json").stat().st_mtime_ns
    assert main(["augment", "--resume", str(out)]) == 0
    assert (out / "prevalence-0.05" / "seed-0" / "cell.json").stat().st_mtime_ns == done
    assert (seed1 / "cell.json").is_file()
    assert main(["report", str(out)]) == 0

    from test_report import _browser, _render  # the report's own check in headless Chromium

    check = _render(_browser(), out / "report.html", tmp_path)
    assert check["images"] == 2 and check["broken"] == []  # the PR curves and the gains
    assert len(check["rows"]) == 5 and min(check["rows"]) >= 1  # closest pairs: the 5th


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["data=penguins", "table.target=nope"], "nope"),
        (["data=penguins", "study.prevalence=[0.6]"], "in (0, 0.5)"),
        (["data=penguins", "study.prevalence=[0.001]"], "prevalence of 0.001 keeps"),
        (["data=penguins", "study.regimes=[real,magic]"], "must be one of real"),
        (["data=penguins", "study.classifiers=[forest]"], "must be one of logistic"),
        (["data=penguins", "study.minority=cat"], "not a class"),
        (["data=penguins", "table.target=bill_length_mm"], "holds numbers, not classes"),
    ],
)
def test_bad_study_input_is_one_line_and_exit_2(settings, message, tmp_path, capsys):
    argv = ["augment", *settings, "steps=5", "study.seeds=1", "--out", str(tmp_path / "s")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_target_with_one_class_is_refused(tmp_path, capsys):
    table = tmp_path / "one.csv"
    pd.DataFrame({"x": np.arange(20.0), "y": ["a"] * 20}).to_csv(table, index=False)
    argv = ["augment", f"data={table}", "table.target=y", "--out", str(tmp_path / "s")]
    assert main(argv) == 2
    assert "one class" in capsys.readouterr().err


@pytest.fixture(scope="module")
def labelled_vectors(tmp_path_factory):
    from sklearn.datasets import make_classification

    x, y = make_classification(800, 6, n_informative=4, weights=[0.7, 0.3], random_state=0)
    path = tmp_path_factory.mktemp("vectors") / "records.npz"
    np.savez(path, x=x.astype(np.float32), labels=np.where(y == 1, "fraud", "ok"))
    return path


def test_labelled_vectors_train_a_conditional_mlp_that_samples_the_asked_class(
    labelled_vectors, tmp_path
):
    out = tmp_path / "run"
    argv = ["train", f"data={labelled_vectors}", "conditional=true", "steps=50"]
    assert main([*argv, "progress=false", "tensorboard=false", "--out", str(out)]) == 0
    samples = tmp_path / "fraud.npz"
    argv = ["sample", str(out), "-n", "20", "-o", str(samples), "--condition", "fraud"]
    assert main(argv) == 0
    with np.load(samples) as saved:
        assert saved["x"].shape == (20, 6)
        assert saved["labels"].tolist() == ["fraud"] * 20
    data = load_data(load_config(None, [f"data={labelled_vectors}"]))
    assert data.classes == ["fraud", "ok"] and len(data.heldout_points) == 160  # 20% held out


def test_the_study_runs_on_labelled_vectors(labelled_vectors, tmp_path):
    out = tmp_path / "study"
    argv = ["augment", f"data={labelled_vectors}", *FAST_CELL, REGIMES, "--out", str(out)]
    assert main(argv) == 0
    study = json.loads((out / "study.json").read_text())
    assert study["settings"]["rare class"] == "fraud"
    cell = study["cells"][0]
    assert cell["heldout_rows"] == {"rare": 48, "other": 112}  # the natural prevalence
