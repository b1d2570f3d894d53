"""A trained GAN and its run folder: save, load, sample, evaluate."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save
from torch import Tensor, nn

from gankit.config import Config, load_config
from gankit.data import ImageData, load_data
from gankit.data.table_conditions import TableConditions
from gankit.data.table_transformer import TableTransformer
from gankit.data.vectors import Standardizer, VectorData
from gankit.errors import DataError, GankitError
from gankit.evaluation import Evaluator, evaluation_noise, generate
from gankit.files import write_atomically
from gankit.nets import build_discriminator, build_generator
from gankit.output import run_folder, sample_files
from gankit.sampling import RefineSettings
from gankit.sampling.refine import (
    Networks,
    rebuild_refined,
    refine_discriminator,
    refined_header,
)
from gankit.sampling.refine import refine as sample_refined
from gankit.threads import torch_threads


class Run:
    """A trained generator G (the EMA copy when enabled) and discriminator D, with their config.

    ``sample(n)`` returns vectors or images in the data's own units; ``evaluate()`` scores
    samples against the real data; ``save``/``load`` round-trip through a run folder.
    ``shape`` is that of one sample, (d,) or (C, H, W); ``classes`` the data's class names,
    which a conditional G (``config.conditional``) is conditioned on.
    """

    def __init__(
        self,
        config: Config,
        standardizer: Standardizer,
        generator: nn.Module,
        discriminator: nn.Module,
        directory: Path | None = None,
        data: VectorData | ImageData | None = None,
        shape: tuple[int, ...] | None = None,
        classes: list[str] | None = None,
        refined_discriminator: nn.Module | None = None,
        transformer: TableTransformer | None = None,
        conditioning: TableConditions | None = None,
    ) -> None:
        self.config = config
        self.standardizer = standardizer
        self.generator = generator.eval()
        self.discriminator = discriminator.eval()
        self.directory = directory
        self._data = data
        self.shape = tuple(shape or (data.shape if data is not None else standardizer.mean.shape))
        self.classes = list(classes if classes is not None else getattr(data, "classes", []))
        self.refined_discriminator = refined_discriminator
        self.refinement: dict[str, Any] = {}  # what the last refined sampling cost
        # A table's encoding: rows to and from what G makes; and its conditions with their
        # training counts, which sampling draws from (None: in the data, reloaded when needed).
        self.transformer = transformer or getattr(data, "transformer", None)
        self._conditioning = conditioning or getattr(data, "conditioning", None)

    @property
    def is_images(self) -> bool:
        return len(self.shape) == 3

    @property
    def is_table(self) -> bool:
        return self.transformer is not None

    @property
    def num_classes(self) -> int:
        """K, the classes G is conditioned on; 0 for an unconditional G."""
        return len(self.classes) if self.config.conditional else 0

    @property
    def data(self) -> VectorData | ImageData:
        """The training data, reloaded from the config when the run was loaded from disk."""
        if self._data is None:
            data = load_data(self.config)
            now = list(getattr(data, "classes", []))
            if self.num_classes and not self.is_table and now != self.classes:
                raise DataError(
                    f"this run's G was trained on {len(self.classes)} classes "
                    f"({', '.join(self.classes)}) and {self.config.data!r} now has {len(now)} "
                    f"({', '.join(now)}); give it the data it was trained on, or train anew"
                )
            self._data = data
        return self._data

    @property
    def conditioning(self) -> TableConditions:
        """A table's conditions and their training counts: kept in the run folder (older
        folders: counted in the data, reloaded)."""
        if self._conditioning is None:
            self._conditioning = self.data.conditioning
        return self._conditioning

    def generate(
        self,
        n: int,
        seed: int = 0,
        refine: str = "none",
        settings: RefineSettings | None = None,
        condition: dict[str, Any] | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """n outputs G(z) as the networks see them, and for a conditional G the classes asked
        for: each class in turn (0, 1, ..., K-1, 0, ...); for a table, conditions as the data has
        them, or those of ``condition`` (see :meth:`sample`).

        ``refine``: correct G's samples by D (:mod:`gankit.sampling`): ``drs``, ``mh`` or
        ``langevin``; what it cost is then in :attr:`refinement`.
        """
        if n < 1:
            raise GankitError(f"the number of samples must be at least 1; got {n}")
        conditioning = self.conditioning if self.is_table else None
        z, labels = evaluation_noise(self.config, self.num_classes, seed, n, conditioning)
        if condition:
            labels = self._condition_labels(condition, n, seed)
        if refine == "none":
            out = generate(self.generator, z, labels, seed)
        else:
            out, labels, self.refinement = sample_refined(
                self._networks(), self.data, n, seed, refine, settings or RefineSettings(), labels
            )
        if condition and self.is_table:  # G made the rows given each value; set it exactly
            out = self.conditioning.impose(out, labels)
        return out, labels

    def _condition_labels(self, condition: dict[str, Any], n: int, seed: int) -> Tensor:
        """Each row's condition for ``{column: value or [values], "proportions": [...]}`` (a
        table) or ``{"class": ...}`` (labelled images): the values in the given proportions
        (equal by default), exactly n rows."""
        if not self.num_classes:
            raise GankitError(
                "--condition takes a conditional run (a table with categorical columns, or "
                "labelled images); this run has no classes"
            )
        wanted = {k: v for k, v in condition.items() if k != "proportions"}
        if len(wanted) != 1:
            raise GankitError("condition on one column, e.g. --condition species=Adelie")
        ((column, values),) = wanted.items()
        values = [str(v) for v in (values if isinstance(values, list | tuple) else [values])]
        conditions = (
            self.conditioning.conditions if self.is_table else [("class", c) for c in self.classes]
        )
        columns = sorted({c for c, _ in conditions})
        if column not in columns and self.is_table and column == "class":
            raise GankitError(
                f"a table's rows are conditioned on a column: write COLUMN=VALUE, e.g. "
                f"{columns[0]}={conditions[0][1]}"
            )
        if column not in columns:
            raise GankitError(
                f"cannot condition on {column!r}; categorical columns: {', '.join(columns)}"
            )
        known = [category for c, category in conditions if c == column]
        for value in values:
            if value not in known:
                raise GankitError(
                    f"{column}={value!r} was never seen in training; {column} takes "
                    + ", ".join(known)
                )
        proportions = condition.get("proportions") or [1.0] * len(values)
        if len(proportions) != len(values) or min(proportions) < 0 or sum(proportions) <= 0:
            raise GankitError(
                f"give one non-negative proportion per value ({len(values)}), e.g. 0.5,0.5"
            )
        shares = torch.tensor(proportions, dtype=torch.float64) / sum(proportions)
        counts = (shares * n).floor().long()
        counts[: n - int(counts.sum())] += 1  # exactly n rows
        indices = [conditions.index((column, value)) for value in values]
        labels = torch.cat([torch.full((int(k),), i) for k, i in zip(counts, indices, strict=True)])
        return labels[torch.randperm(n, generator=torch.Generator().manual_seed(seed))]

    def sample(
        self,
        n: int,
        seed: int = 0,
        refine: str = "none",
        settings: RefineSettings | None = None,
        condition: dict[str, Any] | None = None,
        extrapolate: bool = False,
    ) -> Any:
        """n samples G(z) in data units; the same seed gives the same samples.

        Vectors: (n, d) float32. Images: (n, H, W) grey or (n, H, W, 3) colour, in the data's
        pixel range (0..16 for digits, 0..255 for PNG/JPEG folders). Tables: a DataFrame with the
        training table's columns and dtypes; ``condition={"species": "Adelie"}`` (or a list of
        values, with ``"proportions": [...]``) draws only rows of those values, natively (no
        rejection); numbers within their training range, unless ``extrapolate`` (then up to four
        standard deviations of a mixture mode beyond it). ``refine``: see :meth:`generate`.
        """
        return self.sample_labelled(n, seed, refine, settings, condition, extrapolate)[0]

    def sample_labelled(
        self,
        n: int,
        seed: int = 0,
        refine: str = "none",
        settings: RefineSettings | None = None,
        condition: dict[str, Any] | None = None,
        extrapolate: bool = False,
    ) -> tuple[Any, np.ndarray | None]:
        """:meth:`sample`, and the class of each sample for a conditional G (else None)."""
        self._check_extrapolate(extrapolate)
        out, labels = self.generate(n, seed, refine, settings, condition)
        samples = self._to_data_units(out, extrapolate)
        return samples, None if labels is None else labels.numpy()

    def _check_extrapolate(self, extrapolate: bool) -> None:
        if extrapolate and not self.is_table:
            raise GankitError(
                "--extrapolate lets a table's numbers leave their training range; this run's "
                "samples are not a table's rows: drop --extrapolate"
            )

    def refine_discriminator(
        self,
        steps: int | None = None,
        seed: int = 0,
        batch_size: int | None = None,
        model: str = "auto",
    ) -> dict[str, Any]:
        """Train a D alone against the sampling G (:func:`gankit.sampling.refine.
        refine_discriminator`: ``model`` "copy" of the run's D, "fourier" for vectors, or "auto";
        ``steps`` and ``batch_size`` that model's defaults unless given), keep it in the run
        folder beside the run's D, and record its held-out log-loss and calibration error before
        and after in summary.json."""
        locked = run_folder.locked(self._folder(), "refining its discriminator")
        with locked, torch_threads(self.config.threads):  # small nets: 2 threads can be slower
            networks = Networks(
                self.config, self.generator, self.discriminator, self.num_classes, refined=False
            )
            refined, report = refine_discriminator(
                networks, self.data, steps, seed, batch_size, model
            )
            tensors = {k: v.contiguous() for k, v in refined.state_dict().items()}
            steps_taken = str(report["refine_d/steps"])
            header = {"format": "gankit", "steps": steps_taken, **refined_header(refined)}
            weights = save(tensors, metadata=header)
            write_atomically(self._folder() / run_folder.REFINED_D, weights)
            self.refined_discriminator = refined.eval()
            self.write_summary({**self.summary(), **report})
        return report

    def _networks(self) -> Networks:
        """G and the D that refines its samples: the refined D when there is one."""
        refined = self.refined_discriminator is not None
        discriminator = self.refined_discriminator if refined else self.discriminator
        return Networks(self.config, self.generator, discriminator, self.num_classes, refined)

    def _to_data_units(self, out: Tensor, extrapolate: bool = False) -> Any:
        """G's outputs as samples: (n, d) vectors, images (n, H, W[, 3]) in pixel units, or a
        table's rows as a DataFrame."""
        if self.is_table:
            return self.transformer.inverse_transform(out.numpy(), extrapolate)
        if self.is_images:
            out = out.clamp(-1, 1).permute(0, 2, 3, 1)
            out = out[..., 0] if out.shape[-1] == 1 else out
        return self.standardizer.inverse(out).numpy().astype(np.float32)

    def evaluate(
        self,
        samples: np.ndarray | None = None,
        seed: int | None = None,
        labels: np.ndarray | None = None,
        record: bool = False,
        refine: str = "none",
        settings: RefineSettings | None = None,
    ) -> dict[str, Any]:
        """Metrics of ``samples`` (default: G's samples of the evaluation noise) against the real
        data, scored as training scores them (:mod:`gankit.evaluation`).

        ``seed``: the evaluation noise's and the real draws' seed; default the run's own, so that
        a finished run's fresh evaluation repeats its training's final numbers. ``samples`` are
        in data units as :meth:`sample` gives them; for images, ``labels`` (the classes asked of
        a conditional G) add ``class_accuracy``. ``record``: also write the metrics into the
        run's summary.json as ``evaluate/<metric>`` keys, beside the training's own (the run
        folder is locked meanwhile). ``refine``: score samples corrected by D instead
        (:meth:`generate`), with the method's acceptance rate and cost as ``refine/...`` keys.
        """
        seed = self.config.seed if seed is None else seed
        if record:
            with run_folder.locked(self._folder(), "evaluating it"):
                metrics = self.evaluate(samples, seed, labels, refine=refine, settings=settings)
                summary = self.summary()
                summary.update({f"evaluate/{key}": value for key, value in metrics.items()})
                self.write_summary(summary)
            return metrics
        evaluator = Evaluator(self.config, self.data, self.num_classes, seed)
        if samples is None and refine != "none":
            out, label_tensor = self.generate(self.config.eval_samples, seed, refine, settings)
            refined = out.clamp(-1, 1) if self.is_images else self.standardizer.inverse(out)
            scored = f"{len(out)} samples of G refined by {refine}, seed {seed}"
            metrics = evaluator.score(refined, label_tensor, scored)
            return {**metrics, **{f"refine/{k}": v for k, v in self.refinement.items()}}
        if samples is None:
            return evaluator(self.generator)
        scored = f"{len(samples)} given samples"
        if not self.is_images:
            if samples.ndim != 2 or samples.shape[1] != self.shape[0]:
                raise GankitError(
                    f"samples have shape {samples.shape}; this run's data has "
                    f"{self.shape[0]} features per row"
                )
            return evaluator.score(torch.from_numpy(np.asarray(samples, np.float32)), None, scored)
        samples = np.asarray(samples, np.float32)
        channels, height, width = self.shape
        if samples.ndim == 3 and channels == 1:
            samples = samples[..., None]
        if samples.shape[1:] != (height, width, channels):
            raise GankitError(
                f"samples have shape {samples.shape}; this run makes images of "
                f"{height}x{width} with {channels} channel(s), as (n, H, W[, C])"
            )
        if labels is not None and len(labels) != len(samples):
            raise GankitError(f"{len(labels)} labels for {len(samples)} samples; give one each")
        images = self.standardizer.forward(torch.from_numpy(samples)).permute(0, 3, 1, 2)
        label_tensor = None if labels is None else torch.as_tensor(labels, dtype=torch.long)
        return evaluator.score(images.clamp(-1, 1), label_tensor, scored)

    def save_samples(
        self,
        path: str | Path,
        n: int,
        seed: int = 0,
        refine: str = "none",
        settings: RefineSettings | None = None,
        condition: dict[str, Any] | None = None,
        extrapolate: bool = False,
    ) -> Path:
        """Write n samples to ``path``, as ``gankit sample`` does: .npy, .npz or .csv for
        vectors; .npy, .npz or a folder of PNG files (a subfolder per class) for images; .csv,
        .tsv or .parquet for tables (``condition``, for tables and labelled images, and
        ``extrapolate``, for tables: see :meth:`sample`)."""
        path = Path(path)
        self._check_extrapolate(extrapolate)
        if self.is_table:
            sample_files.check_table_target(path)
            rows = self.sample(n, seed, refine, settings, condition, extrapolate)
            sample_files.write_table(path, rows)
            return path
        sample_files.check_target(path, self.is_images)
        if not self.is_images:
            samples, labels = self.sample_labelled(n, seed, refine, settings, condition)
            names = None if labels is None else np.asarray(self.classes)[labels]
            sample_files.write_vectors(path, samples, names)
            return path
        images, labels = self.generate(n, seed, refine, settings, condition)
        samples = self._to_data_units(images)
        label_array = None if labels is None else labels.numpy()
        sample_files.write_images(path, samples, images, label_array, self.classes)
        return path

    def read_samples(self, path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
        """Samples (and their classes, when the file has them) from a file or PNG folder as
        :meth:`save_samples` writes them, in data units."""
        path = Path(path)
        if self.is_images:
            return sample_files.read_images(path, self.standardizer, self.classes)
        if self.is_table:
            return self.transformer.transform(sample_files.read_table_samples(path)), None
        return sample_files.read_vectors(path), None

    def _folder(self) -> Path:
        if self.directory is None:
            raise GankitError("this run has no folder; save it first (run.save(folder))")
        return self.directory

    def save(self, directory: str | Path) -> None:
        """Write the config and the weights (safetensors) into ``directory``, each whole or not
        at all."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_atomically(directory / run_folder.CONFIG, self.config.to_yaml())
        tensors = {f"generator.{k}": v for k, v in self.generator.state_dict().items()}
        tensors |= {f"discriminator.{k}": v for k, v in self.discriminator.state_dict().items()}
        tensors |= {"data.mean": self.standardizer.mean, "data.std": self.standardizer.std}
        if self.is_images:
            tensors["data.shape"] = torch.tensor(self.shape)
        metadata = {
            "format": "gankit",
            "data": self.config.data,
            "classes": json.dumps(self.classes),
        }
        if self.is_table:  # the encoding, as arrays and JSON: never pickle
            arrays, info = self.transformer.state()
            tensors |= {f"table.{k}": torch.from_numpy(np.asarray(v)) for k, v in arrays.items()}
            metadata["table"] = json.dumps(info)
            metadata["table_condition_counts"] = json.dumps(self.conditioning.counts)
        weights = save({k: v.contiguous() for k, v in tensors.items()}, metadata=metadata)
        write_atomically(directory / run_folder.WEIGHTS, weights)
        self.directory = directory

    @classmethod
    def load(cls, directory: str | Path) -> Run:
        """Load a run folder written by ``gankit train``; never executes code from it."""
        directory = Path(directory)
        if not directory.is_dir():
            raise GankitError(
                f"run folder {str(directory)!r} not found; give the --out folder "
                "of a finished `gankit train`"
            )
        for name in (run_folder.CONFIG, run_folder.WEIGHTS):
            if not (directory / name).is_file():
                raise GankitError(
                    f"{str(directory / name)!r} is missing; is "
                    f"{str(directory)!r} a finished gankit run folder?"
                )
        config = load_config(directory / run_folder.CONFIG)
        try:
            tensors = load_file(directory / run_folder.WEIGHTS)
            with safe_open(directory / run_folder.WEIGHTS, framework="pt") as file:
                metadata = file.metadata() or {}
        except (SafetensorError, OSError) as error:
            raise GankitError(
                f"{str(directory / run_folder.WEIGHTS)!r} is not a readable safetensors "
                f"file ({error}); retrain or restore it"
            ) from None
        if "data.shape" in tensors:
            shape = tuple(tensors["data.shape"].tolist())
        else:
            shape = (int(tensors["data.mean"].numel()) if "data.mean" in tensors else 0,)
        classes = json.loads(metadata.get("classes", "[]"))
        num_classes = len(classes) if config.conditional else 0
        transformer = spans = conditioning = None
        if "table" in metadata:
            arrays = {
                k[len("table.") :]: v.numpy() for k, v in tensors.items() if k.startswith("table.")
            }
            transformer = TableTransformer.from_state(arrays, json.loads(metadata["table"]))
            spans = [(span.size, span.activation) for span in transformer.spans]
            if "table_condition_counts" in metadata:  # else the data's, when sampling needs them
                counts = json.loads(metadata["table_condition_counts"])
                conditioning = TableConditions.from_counts(transformer, counts)
        generator = build_generator(config, shape, num_classes, spans)
        discriminator = build_discriminator(config, shape, num_classes, spans)
        try:
            generator.load_state_dict(_part(tensors, "generator."))
            discriminator.load_state_dict(_part(tensors, "discriminator."))
            standardizer = Standardizer(tensors["data.mean"], tensors["data.std"])
        except (RuntimeError, KeyError) as error:
            reason = str(error).splitlines()[0]
            raise GankitError(
                f"{str(directory / run_folder.WEIGHTS)!r} does not match its "
                f"config.yaml ({reason}); retrain or restore the folder"
            ) from None
        refined = None
        if (directory / run_folder.REFINED_D).is_file():
            refined = _load_refined(
                directory / run_folder.REFINED_D,
                lambda: build_discriminator(config, shape, num_classes, spans),
                shape[0],
                num_classes,
            )
        return cls(
            config,
            standardizer,
            generator,
            discriminator,
            directory,
            shape=shape,
            classes=classes,
            refined_discriminator=refined,
            transformer=transformer,
            conditioning=conditioning,
        )

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Replace the run's summary.json, whole or not at all."""
        run_folder.write_json(self._folder() / run_folder.SUMMARY, summary)

    def summary(self) -> dict[str, Any]:
        """The run's summary.json, or {} if it has none yet."""
        return run_folder.read_summary(self.directory) if self.directory else {}


def _load_refined(
    path: Path, copy_of_d: Callable[[], nn.Module], data_dim: int, num_classes: int
) -> nn.Module:
    """The refined D of ``path``, rebuilt as its header says, or one line saying what is wrong
    with the file."""
    try:
        with safe_open(path, framework="pt") as file:
            header = file.metadata() or {}
        module = rebuild_refined(header, copy_of_d, data_dim, num_classes)
        module.load_state_dict(load_file(path))
    except (SafetensorError, OSError, RuntimeError, KeyError, ValueError) as error:
        reason = str(error).splitlines()[0]
        raise GankitError(
            f"{str(path)!r} is not this run's discriminator ({reason}); delete it, or run "
            "`gankit refine-d` again"
        ) from None
    return module.eval()


def _part(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def load(directory: str | Path) -> Run:
    """Load a run folder: ``gankit.load("runs/ring8").sample(1000)``."""
    return Run.load(directory)
