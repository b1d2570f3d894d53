"""The conditions of a table's conditional G: CTGAN's conditional vector.

A condition is a (column, category) pair of a categorical column; G and D take it as a one-hot
over all pairs, and G's row has a one-hot span per column where that category sits. Training
draws conditions by CTGAN's training-by-sampling (a categorical column uniformly, then a
category with probability proportional to log(1 + its count)); sampling from a trained G draws
them as the data has them (a column uniformly, then a category by its count), so that each
column of the rows follows the data's marginal.

Both draws need only the count of training rows of each condition, not the rows: a run folder
keeps the counts, so a trained table run samples without its training data at hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from gankit.data.table_transformer import TableTransformer
from gankit.errors import DataError


@dataclass
class TableConditions:
    """Each condition, where its category sits in an encoded row, and its training count.

    ``spans[c]`` is (start, end, slot): condition c's column occupies ``row[start:end]`` and its
    category is the one-hot at ``start + slot``. The tensors live on ``device``, where the draws
    take their random numbers.
    """

    conditions: list[tuple[str, str]]
    spans: list[tuple[int, int, int]]
    counts: list[int]
    device: torch.device | str = "cpu"
    slots: Tensor = field(init=False, repr=False)  # each condition's entry in a row

    def __post_init__(self) -> None:
        columns: dict[str, list[int]] = {}  # each categorical column's conditions, in order
        for index, (column, _) in enumerate(self.conditions):
            columns.setdefault(column, []).append(index)
        weights = [np.asarray([self.counts[i] for i in group], float) for group in columns.values()]
        self.device = device = torch.device(self.device)
        self.slots = torch.tensor([start + slot for start, _, slot in self.spans]).to(device)
        self._first = torch.tensor([group[0] for group in columns.values()], dtype=torch.long)
        self._first = self._first.to(device)
        self._count = torch.tensor([len(group) for group in columns.values()]).to(device)
        self._log_cdf = _cumulative([np.log1p(w) for w in weights]).to(device)  # CTGAN's
        self._cdf = _cumulative(weights).to(device)

    @classmethod
    def layout(cls, transformer: TableTransformer) -> tuple[list[tuple[str, str]], list]:
        """The conditions of ``transformer``'s categorical columns and their spans."""
        kinds = {column.name: column for column in transformer.columns}
        conditions, spans = [], []
        start = 0
        for span in transformer.spans:
            column = kinds[span.column]
            if column.kind == "categorical":
                for slot, category in enumerate(column.categories):
                    conditions.append((column.name, str(category)))
                    spans.append((start, start + span.size, slot))
            start += span.size
        return conditions, spans

    @classmethod
    def from_counts(cls, transformer: TableTransformer, counts: list[int]) -> TableConditions:
        """The conditions of ``transformer`` with counts a run folder kept."""
        conditions, spans = cls.layout(transformer)
        if len(counts) != len(conditions) or not all(isinstance(c, int) for c in counts):
            raise DataError(
                f"the run folder holds {len(counts)} condition counts for {len(conditions)} "
                "conditions of its table; restore its model.safetensors, or train anew"
            )
        return cls(conditions, spans, list(counts))

    def to(self, device: torch.device | str) -> TableConditions:
        """The same conditions with their tensors on ``device``."""
        if torch.device(device) == self.device:
            return self
        return TableConditions(self.conditions, self.spans, self.counts, device)

    def sample_labels(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n conditions by training-by-sampling: a column uniformly, then a category with
        probability proportional to log(1 + its count). All 0 without categorical columns."""
        return self._draw(n, generator, self._log_cdf)

    def sample_original_labels(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n conditions as the data has them: a column uniformly, then a category with
        probability proportional to its count (for sampling from a trained G)."""
        return self._draw(n, generator, self._cdf)

    def _draw(self, n: int, generator: torch.Generator | None, cdf: Tensor) -> Tensor:
        if not self.conditions:
            return torch.zeros(n, dtype=torch.long, device=self.device)
        column = torch.randint(len(self._first), (n,), generator=generator, device=self.device)
        u = torch.rand(n, 1, generator=generator, device=self.device, dtype=cdf.dtype)
        slot = (cdf[column] <= u).sum(dim=1)
        return self._first[column] + torch.minimum(slot, self._count[column] - 1)

    def pairs(self, rows: Tensor) -> tuple[Tensor, Tensor]:
        """(row index, condition) for every condition each encoded row has: a row with a
        category in k columns gives k pairs."""
        has = rows[:, self.slots.to(rows.device)] > 0
        return has.nonzero(as_tuple=True)

    def impose(self, rows: Tensor, labels: Tensor) -> Tensor:
        """``rows`` with each condition's column set to its category: the asked value exactly,
        the other columns as G made them given it (sampling on a condition, no rejection)."""
        rows = rows.clone()
        for c in labels.unique().tolist():
            start, end, slot = self.spans[c]
            chosen = labels == c
            rows[chosen, start:end] = 0.0
            rows[chosen, start + slot] = 1.0
        return rows


def _cumulative(weights: list[np.ndarray]) -> Tensor:
    """(columns, most categories): each column's cumulative distribution over its categories,
    padded with 2 (beyond any uniform draw)."""
    width = max((len(w) for w in weights), default=0)
    cdf = np.full((len(weights), width), 2.0)
    for index, w in enumerate(weights):
        cdf[index, : len(w)] = np.cumsum(w) / w.sum()
    return torch.from_numpy(cdf)
