"""The command line: ``gankit train | sample | evaluate | refine-d | augment | report | theory |
lab``.

Exit status 0 on success, 2 on bad input (one line on stderr), 3 when training diverged, 1 on
an internal error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gankit import __version__
from gankit.errors import DivergenceError, GankitError
from gankit.sampling import RefineSettings

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise GankitError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gankit", description="Generative adversarial networks, made useful.")
    parser.add_argument("--version", action="version", version=f"gankit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a GAN and write a run folder")
    train.add_argument("--config", type=Path, help="YAML or JSON config file")
    train.add_argument("--out", type=Path, help="run folder (default: runs/<data>-<time>)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    train.add_argument(
        "--resume",
        type=Path,
        metavar="RUN",
        help="continue the stopped run RUN from its newest checkpoint, with its own config",
    )
    train.add_argument(
        "--allow-changed-data",
        action="store_true",
        help="with --resume: go on although the data differs from the checkpoint's",
    )
    train.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], help="where to train (default: auto)"
    )
    train.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="settings over the config, e.g. data=grid25 steps=4000 seed=1",
    )

    sample = commands.add_parser("sample", help="write samples of a trained run")
    sample.add_argument("run", type=Path, help="run folder")
    sample.add_argument("-n", type=int, default=1000, help="number of samples (default 1000)")
    sample.add_argument(
        "-o",
        "--out",
        type=Path,
        required=True,
        help="output file: .npy, .npz or .csv; for images also a folder (PNG files)",
    )
    sample.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    sample.add_argument(
        "--condition",
        metavar="COLUMN=VALUE[,VALUE...]",
        help="tables: only rows with these values of a categorical column; labelled images: "
        "only these classes (CLASS[,CLASS...])",
    )
    sample.add_argument(
        "--proportions", metavar="P[,P...]", help="with --condition: the share of each value"
    )
    sample.add_argument(
        "--extrapolate",
        action="store_true",
        help="tables: let numbers go beyond their training range (by up to 4 standard "
        "deviations of a mode) rather than clip them to it",
    )
    _add_refine_options(sample)

    evaluate = commands.add_parser("evaluate", help="score a run's samples against its data")
    evaluate.add_argument("run", type=Path, help="run folder")
    evaluate.add_argument(
        "--samples",
        type=Path,
        help="score this .npy/.npz/.csv file (images: .npz/.npy or a PNG folder, as "
        "`gankit sample` writes them) instead of fresh samples of G",
    )
    evaluate.add_argument(
        "--inception",
        type=Path,
        metavar="WEIGHTS",
        help="InceptionV3 features from a pytorch-fid/torch-fidelity weights file (unavailable: "
        "see README)",
    )
    evaluate.add_argument(
        "--seed",
        type=int,
        help="noise seed (default: the run's own, as its training's evaluations used)",
    )
    _add_refine_options(evaluate)

    refine_d = commands.add_parser(
        "refine-d", help="train D alone against the run's G, so that it refines samples better"
    )
    refine_d.add_argument("run", type=Path, help="run folder")
    refine_d.add_argument(
        "--steps", type=int, help="D steps (default: 5000 for a Fourier D, 2000 for a copy)"
    )
    refine_d.add_argument(
        "--batch-size",
        type=int,
        help="real and fake samples a step (default: 256 for a Fourier D, the run's for a copy)",
    )
    refine_d.add_argument("--seed", type=int, default=0, help="seed of the data and noise")
    refine_d.add_argument(
        "--model",
        default="auto",
        help="the D to train: copy (of the run's), fourier (vectors: a fresh D on Fourier "
        "features, which resolves detail within a mode), auto (fourier for vectors, else copy)",
    )

    report = commands.add_parser(
        "report", help="write a run or study folder as one self-contained HTML page"
    )
    report.add_argument("run", type=Path, metavar="RUN", help="run folder or study folder")
    report.add_argument(
        "-o", "--out", type=Path, help="HTML file to write (default: RUN/report.html)"
    )

    augment = commands.add_parser(
        "augment",
        help="does adding G's samples to scarce real data make a better classifier?",
    )
    augment.add_argument("--config", type=Path, help="YAML or JSON config file (study.* too)")
    augment.add_argument(
        "--out", type=Path, default=Path("runs/augment"), help="study folder (default runs/augment)"
    )
    augment.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    augment.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="finish the stopped study in DIR with its own config (its done cells are kept)",
    )
    augment.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="settings, e.g. data=digits study.fractions=[0.05,0.1] study.seeds=5 steps=2000",
    )

    theory = commands.add_parser(
        "theory",
        help="check GAN theory by experiment: D*, V(D*, G), training, saturation, refinement",
    )
    theory.add_argument(
        "checks",
        nargs="*",
        metavar="CHECK",
        help="optimal-d, value, training, saturation or refine (default: all of them)",
    )
    theory.add_argument(
        "--out", type=Path, default=Path("runs/theory"), help="figures folder (default runs/theory)"
    )
    theory.add_argument("--json", type=Path, help="also write every check's results to this file")
    theory.add_argument("--fast", action="store_true", help="seconds, not minutes: less training")

    lab = commands.add_parser(
        "lab", help="watch and steer a small GAN learning in the browser, D beside D*"
    )
    lab.add_argument("--port", type=int, default=8000, help="port to serve on (default 8000)")
    lab.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to serve on (default 127.0.0.1, this machine only)",
    )
    lab.add_argument(
        "--no-browser", action="store_true", help="print the address; do not open a browser"
    )
    return parser


def _add_refine_options(parser: argparse.ArgumentParser) -> None:
    """--refine METHOD and its settings (see gankit.sampling.RefineSettings)."""
    defaults = RefineSettings()
    parser.add_argument(
        "--refine",
        default="none",
        metavar="METHOD",
        help="correct G's samples by D: drs, mh, langevin, or none (default)",
    )
    group = parser.add_argument_group("refinement settings")
    group.add_argument(
        "--percentile",
        type=float,
        default=defaults.percentile,
        help=f"drs: gamma is this percentile of F (default {defaults.percentile:g})",
    )
    group.add_argument("--gamma", type=float, help="drs: gamma itself (0: exact rejection)")
    group.add_argument(
        "--chain",
        type=int,
        default=defaults.chain,
        help=f"mh: proposals per sample (default {defaults.chain})",
    )
    group.add_argument(
        "--calibration",
        default=defaults.calibration,
        help=f"mh: isotonic or logistic (default {defaults.calibration})",
    )
    group.add_argument(
        "--langevin-steps",
        type=int,
        default=defaults.steps,
        help=f"langevin: steps (default {defaults.steps})",
    )
    group.add_argument(
        "--step-size",
        type=_step_size,
        default=defaults.step_size,
        help="langevin: eta, or auto: tuned in the first half of the steps (default auto)",
    )
    group.add_argument(
        "--metropolis", action="store_true", help="langevin: a Metropolis test each step"
    )


def _step_size(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or auto, got {text!r}") from None


def _refine_settings(args: argparse.Namespace) -> RefineSettings:
    from gankit.sampling import check_method

    check_method(args.refine)
    settings = RefineSettings(
        percentile=args.percentile,
        gamma=args.gamma,
        chain=args.chain,
        calibration=args.calibration,
        steps=args.langevin_steps,
        step_size=args.step_size,
        metropolis=args.metropolis,
    )
    settings.check()
    return settings


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line; ``train`` takes KEY=VALUE overrides before or after its options."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    takes_overrides = args.command in ("train", "augment")
    unknown = [item for item in extra if not takes_overrides or "=" not in item]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its messages go to stderr through the ``gankit`` logger."""
    _log_to_stderr()
    try:
        args = parse_args(argv)
        return COMMANDS[args.command](args)
    except DivergenceError as error:
        print(f"gankit: diverged: {error}", file=sys.stderr)
        return EXIT_DIVERGED
    except GankitError as error:
        print(f"gankit: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug in gankit, not the user's input
        if os.environ.get("GANKIT_DEBUG"):
            traceback.print_exc()
        print(
            f"gankit: internal error: {type(error).__name__}: {error} "
            "(set GANKIT_DEBUG=1 for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1


class _StderrHandler(logging.StreamHandler):
    """Writes each message to ``sys.stderr`` as it is when the message comes (callers such as
    test runners may swap it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


def _log_to_stderr() -> None:
    """The library's messages (``logging.getLogger("gankit")``), one line each on stderr."""
    logger = logging.getLogger("gankit")
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("gankit: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _train(args: argparse.Namespace) -> int:
    # The config is checked before torch loads (a second): a typo is answered at once.
    from gankit.config import load_config

    if args.resume is not None:
        if args.config or args.out or args.overwrite or args.overrides:
            raise GankitError(
                "--resume continues RUN with the config it was started with; "
                "drop --config, --out, --overwrite and KEY=VALUE (only --device may change)"
            )
        from gankit.training.run_training import resume

        run = resume(args.resume, device=args.device, allow_changed_data=args.allow_changed_data)
    else:
        if args.allow_changed_data:
            raise GankitError("--allow-changed-data goes with --resume RUN; drop it")
        device = [f"device={args.device}"] if args.device else []
        config = load_config(args.config, [*args.overrides, *device])
        from gankit.training.run_training import train

        run = train(config, out=args.out, overwrite=args.overwrite)
    from gankit.training.distributed import is_main_process

    if not is_main_process():  # under torchrun, rank 0 speaks for the run
        return 0
    summary = run.summary()
    print(f"run folder: {run.directory}")
    print(json.dumps({k: v for k, v in summary.items() if k != "step"}))
    return 0


def _augment(args: argparse.Namespace) -> int:
    # As for train: the settings are checked before the study (and torch) loads.
    from gankit.studies.config import load_study_config

    if args.resume is not None:
        if args.config or args.overwrite or args.overrides:
            raise GankitError(
                "--resume finishes DIR with the config it was started with; "
                "drop --config, --overwrite and KEY=VALUE"
            )
        from gankit.studies.augment import resume_study

        study, folder = resume_study(args.resume), args.resume
    else:
        settings = load_study_config(args.config, args.overrides)
        from gankit.studies.augment import augment_study

        study = augment_study(settings, out=args.out, overwrite=args.overwrite)
        folder = args.out
    from gankit.studies.tables import format_tables

    # the tables that fit a terminal; table.md and the report hold every one
    print(format_tables([table for table in study["tables"] if table.get("terminal", True)]))
    print(f"study folder: {folder} (gankit report {folder} makes an HTML page of it)")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from gankit.output.sample_files import check_suffix
    from gankit.run import load

    check_suffix(args.out)  # before the run is read: a typo answers at once
    settings = _refine_settings(args)
    condition = _condition(args.condition, args.proportions)
    run = load(args.run)
    path = run.save_samples(
        args.out,
        args.n,
        args.seed,
        refine=args.refine,
        settings=settings,
        condition=condition,
        extrapolate=args.extrapolate,
    )
    print(f"wrote {args.n} samples to {path}")
    if run.refinement:
        print(json.dumps(run.refinement))
    return 0


def _condition(text: str | None, proportions: str | None) -> dict | None:
    """``--condition species=Adelie,Gentoo --proportions 0.5,0.5`` (a table's column) or
    ``--condition 3,5`` (classes) as ``Run.sample`` takes it."""
    if text is None:
        if proportions is not None:
            raise GankitError("--proportions goes with --condition COLUMN=VALUE,VALUE")
        return None
    column, sep, values = text.partition("=")
    if not sep:  # classes of labelled images
        column, values = "class", text
    if not column or not values.strip(","):
        raise GankitError(
            f"--condition {text!r}: write COLUMN=VALUE (a table), e.g. species=Adelie, or "
            "CLASS (labelled images), e.g. 3"
        )
    condition: dict = {column: [v.strip() for v in values.split(",")]}
    if proportions is not None:
        try:
            condition["proportions"] = [float(p) for p in proportions.split(",")]
        except ValueError:
            raise GankitError(
                f"--proportions {proportions!r}: write numbers, e.g. 0.5,0.5"
            ) from None
    return condition


def _refine_d(args: argparse.Namespace) -> int:
    from gankit.run import load

    run = load(args.run)
    report = run.refine_discriminator(args.steps, args.seed, args.batch_size, args.model)
    print(json.dumps(report))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from gankit.metrics.features import INCEPTION_UNAVAILABLE
    from gankit.run import load

    if args.inception is not None:
        raise GankitError(INCEPTION_UNAVAILABLE)
    settings = _refine_settings(args)
    if args.samples and args.refine != "none":
        raise GankitError("--samples scores a file as it is; drop --refine, or drop --samples")
    run = load(args.run)
    samples, labels = run.read_samples(args.samples) if args.samples else (None, None)
    metrics = run.evaluate(
        samples, seed=args.seed, labels=labels, record=True, refine=args.refine, settings=settings
    )
    print(json.dumps(metrics))
    return 0


def _report(args: argparse.Namespace) -> int:
    from gankit.output.html_report import write_report

    print(write_report(args.run, args.out))
    return 0


def _theory(args: argparse.Namespace) -> int:
    from gankit.output.run_folder import write_json
    from gankit.theory import run_checks

    if args.json is not None and args.json.is_dir():
        raise GankitError(f"--json {str(args.json)!r} is a folder; give a file path")
    results = {}
    for report in run_checks(args.checks, args.out, fast=args.fast):
        print(report.table())
        print(f"figures in {args.out}: " + ", ".join(path.name for path in report.figures) + "\n")
        results[report.check] = report.to_json()
    if args.json is not None:
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            write_json(args.json, results)
        except OSError as error:
            raise GankitError(
                f"cannot write {str(args.json)!r} ({error.strerror}); choose a writable path"
            ) from None
        print(f"results in {args.json}")
    return 0


def _lab(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise GankitError(
            f"--port {args.port} is not a port; choose one in 1-65535 (0: any free port)"
        )
    from gankit.lab.app import serve  # starlette, uvicorn and torch load only here

    serve(args.host, args.port, open_browser=not args.no_browser)
    return 0


COMMANDS = {
    "train": _train,
    "sample": _sample,
    "evaluate": _evaluate,
    "refine-d": _refine_d,
    "augment": _augment,
    "report": _report,
    "theory": _theory,
    "lab": _lab,
}

if __name__ == "__main__":
    sys.exit(main())
