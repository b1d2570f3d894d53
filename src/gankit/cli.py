"""The command line: ``gankit train | sample | evaluate | augment | report | theory``.

Exit status 0 on success, 2 on bad input (one line on stderr), 1 on an internal error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gankit.errors import GankitError

if TYPE_CHECKING:
    from gankit.run import Run

SAMPLE_SUFFIXES = (".npy", ".npz", ".csv")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise GankitError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gankit", description="Generative adversarial networks, made useful.")
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
    evaluate.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")

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
        "theory", help="check GAN theory by experiment: D*, V(D*, G), training, saturation"
    )
    theory.add_argument(
        "checks",
        nargs="*",
        metavar="CHECK",
        help="optimal-d, value, training or saturation (default: all of them)",
    )
    theory.add_argument(
        "--out", type=Path, default=Path("runs/theory"), help="figures folder (default runs/theory)"
    )
    theory.add_argument("--json", type=Path, help="also write every check's results to this file")
    theory.add_argument("--fast", action="store_true", help="seconds, not minutes: less training")
    return parser


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
    try:
        args = parse_args(argv)
        return COMMANDS[args.command](args)
    except GankitError as error:
        print(f"gankit: error: {error}", file=sys.stderr)
        return 2
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


def _train(args: argparse.Namespace) -> int:
    from gankit.config import load_config
    from gankit.train import resume, train
    from gankit.train.distributed import is_main_process

    if args.resume is not None:
        if args.config or args.out or args.overwrite or args.overrides:
            raise GankitError(
                "--resume continues RUN with the config it was started with; "
                "drop --config, --out, --overwrite and KEY=VALUE (only --device may change)"
            )
        run = resume(args.resume, device=args.device)
    else:
        device = [f"device={args.device}"] if args.device else []
        config = load_config(args.config, [*args.overrides, *device])
        run = train(config, out=args.out, overwrite=args.overwrite)
    if not is_main_process():  # under torchrun, rank 0 speaks for the run
        return 0
    summary = run.summary()
    print(f"run folder: {run.directory}")
    print(json.dumps({k: v for k, v in summary.items() if k != "step"}))
    return 0


def _augment(args: argparse.Namespace) -> int:
    from gankit.study import augment_study, format_tables, load_study_config, resume_study

    if args.resume is not None:
        if args.config or args.overwrite or args.overrides:
            raise GankitError(
                "--resume finishes DIR with the config it was started with; "
                "drop --config, --overwrite and KEY=VALUE"
            )
        study, folder = resume_study(args.resume), args.resume
    else:
        config = load_study_config(args.config, args.overrides)
        study = augment_study(config, out=args.out, overwrite=args.overwrite)
        folder = args.out
    print(format_tables(study["tables"]))
    print(f"study folder: {folder} (gankit report {folder} makes an HTML page of it)")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from gankit.run import load

    suffix = args.out.suffix.lower()
    if suffix and suffix not in SAMPLE_SUFFIXES:
        raise GankitError(
            f"-o {str(args.out)!r}: use a file ending in "
            + ", ".join(SAMPLE_SUFFIXES)
            + ", or a folder (PNG files) for images"
        )
    run = load(args.run)
    if run.is_images:
        return _sample_images(run, args)
    if not suffix:
        raise GankitError(
            f"-o {str(args.out)!r}: this run makes vectors; use a file ending in "
            + ", ".join(SAMPLE_SUFFIXES)
        )
    samples = run.sample(args.n, seed=args.seed)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".npy":
            np.save(args.out, samples)
        elif suffix == ".npz":
            np.savez(args.out, x=samples)
        else:
            np.savetxt(
                args.out,
                samples,
                delimiter=",",
                fmt="%.7g",
                header=",".join(f"x{i}" for i in range(samples.shape[1])),
                comments="",
            )
    except OSError as error:
        raise GankitError(
            f"cannot write {str(args.out)!r} ({error.strerror}); choose a writable path"
        ) from None
    print(f"wrote {len(samples)} samples to {args.out}")
    return 0


def _sample_images(run: Run, args: argparse.Namespace) -> int:
    """Images to a folder of PNGs (a subfolder per class when conditional), .npz or .npy."""
    from gankit.pictures import save_png_folder

    suffix = args.out.suffix.lower()
    if suffix == ".csv":
        raise GankitError(f"-o {str(args.out)!r}: images go to a folder, .npz or .npy")
    if not suffix and args.out.exists() and any(args.out.iterdir()):
        raise GankitError(f"-o {str(args.out)!r} is not empty; choose a new folder")
    try:
        if not suffix:
            images, labels = run.generate(args.n, seed=args.seed)
            save_png_folder(images, args.out, labels, run.classes)
        else:
            samples, labels = run.sample_labelled(args.n, seed=args.seed)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            if suffix == ".npy":
                np.save(args.out, samples)
            elif labels is None:
                np.savez(args.out, images=samples)
            else:
                np.savez(args.out, images=samples, labels=labels)
    except OSError as error:
        raise GankitError(
            f"cannot write {str(args.out)!r} ({error.strerror}); choose a writable path"
        ) from None
    print(f"wrote {args.n} images to {args.out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from gankit.data.arrays import load_vectors
    from gankit.metrics.features import INCEPTION_UNAVAILABLE
    from gankit.run import load

    if args.inception is not None:
        raise GankitError(INCEPTION_UNAVAILABLE)
    run = load(args.run)
    labels = None
    if run.is_images and args.samples:
        samples, labels = _read_image_samples(run, args.samples)
    else:
        samples = load_vectors(args.samples) if args.samples else None
    metrics = run.evaluate(samples, seed=args.seed, labels=labels)
    summary = {**run.summary(), **metrics}
    run.write_summary(summary)
    print(json.dumps(metrics))
    return 0


def _read_image_samples(run: Run, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Image samples in the run's data units, and their classes if known, from what
    ``gankit sample`` writes: a PNG folder (a subfolder per class), an .npz or an .npy."""
    import torch

    from gankit.data.image_files import read_image_folder
    from gankit.errors import DataError

    if path.is_dir():
        raw = read_image_folder(path)
        if len({image.shape for image in raw.images}) > 1:
            raise DataError(f"images in {str(path)!r} have different sizes")
        pixels = torch.from_numpy(np.stack(raw.images).astype(np.float32)) / 127.5 - 1
        samples = run.standardizer.inverse(pixels).numpy()
        if raw.labels is None:
            return samples, None
        unknown = sorted(set(raw.classes) - set(run.classes))
        if unknown:
            raise DataError(f"{str(path)!r} has class folders {unknown} that the run lacks")
        return samples, np.array([run.classes.index(raw.classes[i]) for i in raw.labels])
    if path.suffix.lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                labels = archive["labels"] if "labels" in archive.files else None
                return archive["images"], labels
        except (ValueError, OSError, KeyError) as error:
            raise DataError(
                f"cannot read images from {str(path)!r}: {_first_line(error)}"
            ) from None
    try:
        return np.load(path, allow_pickle=False), None
    except (ValueError, OSError) as error:
        raise DataError(f"cannot read images from {str(path)!r}: {_first_line(error)}") from None


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _report(args: argparse.Namespace) -> int:
    from gankit.report import write_report

    print(write_report(args.run, args.out))
    return 0


def _theory(args: argparse.Namespace) -> int:
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
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        except OSError as error:
            raise GankitError(
                f"cannot write {str(args.json)!r} ({error.strerror}); choose a writable path"
            ) from None
        print(f"results in {args.json}")
    return 0


COMMANDS = {
    "train": _train,
    "sample": _sample,
    "evaluate": _evaluate,
    "augment": _augment,
    "report": _report,
    "theory": _theory,
}

if __name__ == "__main__":
    sys.exit(main())
