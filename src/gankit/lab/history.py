"""A history that stays bounded however long the lab runs: thinned by half when full."""

from __future__ import annotations

from typing import Generic, TypeVar

Item = TypeVar("Item")


class ThinnedHistory(Generic[Item]):
    """Keeps at most ``capacity`` items, evenly spread over everything appended.

    When full, every other kept item is dropped and from then on only every ``stride``-th
    appended item is kept (``stride`` doubles): the kept items are always those whose index
    among all appended is a multiple of ``stride``.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 2:
            raise ValueError("a thinned history keeps at least 2 items")
        self.capacity = capacity
        self.items: list[Item] = []
        self.stride = 1
        self.appended = 0

    def append(self, item: Item) -> None:
        if self.appended % self.stride == 0:
            self.items.append(item)
            if len(self.items) > self.capacity:
                self.items = self.items[::2]
                self.stride *= 2
        self.appended += 1

    def clear(self) -> None:
        self.items, self.stride, self.appended = [], 1, 0

    def __len__(self) -> int:
        return len(self.items)
