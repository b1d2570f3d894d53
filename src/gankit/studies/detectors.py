"""The classifiers of the rare-event study and how they are scored: does a model trained on a
regime's rows find the rare class among the held-out rows?

Every classifier reads a feature frame (numeric columns, and categorical ones as pandas
categories) and answers P(rare | x). Logistic regression and the small MLP see the numbers
standardised and the categories one-hot; histogram gradient boosting takes the categories
natively. A regime's ``weights`` reach each model as sample weights (the cost-sensitive
regime).

The scores (:func:`detection_scores`): average precision (PR-AUC, the headline: it ignores the
easy negatives that dominate ROC-AUC at 1% prevalence), ROC-AUC, the F1 of the rare class at
the threshold that maximises F1 on the validation rows (chosen there, never on the held-out
rows), and the rare class's recall at the precision a reference model reaches.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd

Classifier = Literal["logistic", "boosting", "mlp"]
CLASSIFIERS: tuple[Classifier, ...] = ("logistic", "boosting", "mlp")


def fit_detector(
    name: Classifier,
    features: pd.DataFrame,
    is_rare: np.ndarray,
    weights: np.ndarray | None,
    seed: int,
):
    """The classifier ``name`` fitted on ``features`` to predict ``is_rare`` (0/1); its
    ``predict_proba(frame)[:, 1]`` is P(rare)."""
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = [
        c for c in features.columns if isinstance(features[c].dtype, pd.CategoricalDtype)
    ]
    numeric = [c for c in features.columns if c not in categorical]
    if name == "boosting":
        model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
        return model.fit(features, is_rare, sample_weight=weights)
    encode = make_column_transformer(
        (StandardScaler(), numeric),
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
    )
    if name == "logistic":
        head = LogisticRegression(max_iter=2000)
    else:  # one hidden layer of 64: small enough for a few hundred rows
        head = MLPClassifier(hidden_layer_sizes=(64,), max_iter=400, random_state=seed)
    pipeline = make_pipeline(encode, head)
    step = pipeline.steps[-1][0]
    with warnings.catch_warnings():
        # a fixed budget of iterations is the model's definition here, not a failure
        warnings.simplefilter("ignore", ConvergenceWarning)
        return pipeline.fit(features, is_rare, **{f"{step}__sample_weight": weights})


def best_f1_threshold(is_rare: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold with the highest F1 of the rare class on these (validation) rows."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(is_rare, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def recall_at_precision(is_rare: np.ndarray, scores: np.ndarray, precision_floor: float) -> float:
    """The highest recall of the rare class at any threshold whose precision reaches
    ``precision_floor`` (0 when none does)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(is_rare, scores)
    reached = recall[precision >= precision_floor]
    return float(reached.max()) if len(reached) else 0.0


def detection_scores(
    validation: tuple[np.ndarray, np.ndarray],
    heldout: tuple[np.ndarray, np.ndarray],
    precision_floor: float | None = None,
) -> dict[str, float]:
    """A classifier's scores on the held-out rows, (is_rare, P(rare)) pairs.

    ``pr_auc``, ``roc_auc``; ``f1`` and ``precision`` at the threshold chosen on the
    ``validation`` rows; ``recall_at_precision`` at ``precision_floor`` (by default this
    classifier's own held-out precision, which is what a reference model sets).
    """
    from sklearn.metrics import average_precision_score, f1_score, precision_score, roc_auc_score

    threshold = best_f1_threshold(*validation)
    is_rare, scores = heldout
    predicted = scores >= threshold
    precision = float(precision_score(is_rare, predicted, zero_division=0.0))
    floor = precision if precision_floor is None else precision_floor
    return {
        "pr_auc": float(average_precision_score(is_rare, scores)),
        "roc_auc": float(roc_auc_score(is_rare, scores)),
        "f1": float(f1_score(is_rare, predicted, zero_division=0.0)),
        "precision": precision,
        "recall_at_precision": recall_at_precision(is_rare, scores, floor),
    }
