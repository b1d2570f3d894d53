"""``gankit theory``: the classic GAN derivations, checked by experiments a student can run.

    optimal-d   D trained against a fixed p_g approaches D* = p_data / (p_data + p_g)
    value       V(D*, G) = -log 4 + 2 JS(p_data || p_g), both sides by quadrature
    training    a GAN on a 1D mixture: p_g, D against D*, JS and V over training
    saturation  G's gradient under log(1 - D(G(z))) vanishes as D rejects G; -log D(G(z))'s does not
    refine      rejecting p_g's samples by D* (or a trained D) leaves samples of p_data

Each check returns a :class:`~gankit.theory.result.CheckResult` (a table of measured numbers) and
draws its PNG figures into ``out``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from gankit.errors import GankitError
from gankit.theory import optimal_d, refine, saturation, training, value
from gankit.theory.result import CheckResult
from gankit.threads import torch_threads

CHECKS: dict[str, Callable[[Path, bool], CheckResult]] = {
    "optimal-d": optimal_d.run,
    "value": value.run,
    "training": training.run,
    "saturation": saturation.run,
    "refine": refine.run,
}


def check_names(names: Sequence[str]) -> list[str]:
    """The checks to run, in the order given (all of them when none is named)."""
    for name in names:
        if name not in CHECKS:
            close = difflib.get_close_matches(name, CHECKS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise GankitError(f"unknown check {name!r}; {hint}choose from {', '.join(CHECKS)}")
    return list(dict.fromkeys(names)) or list(CHECKS)


def run_checks(
    names: Sequence[str] = (), out: str | Path = "runs/theory", fast: bool = False
) -> Iterator[CheckResult]:
    """The reports of the named checks (default all), each run as it is asked for.

    Names and ``out`` are checked at once; figures go into ``out``. ``fast`` shrinks the
    training in optimal-d, training and saturation to a few seconds.
    """
    selected = check_names(names)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GankitError(
            f"cannot write to --out {str(out)!r} ({error.strerror}); choose a writable folder"
        ) from None
    return _run(selected, out, fast)


def _run(selected: list[str], out: Path, fast: bool) -> Iterator[CheckResult]:
    for name in selected:
        with torch_threads(1):  # tensors of 1e3 to 1e4 numbers: one thread is fastest
            report = CHECKS[name](out, fast)
        yield report


__all__ = ["CHECKS", "CheckResult", "check_names", "run_checks"]
