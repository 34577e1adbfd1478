"""Sequence sets (RFC 9051 section 9 `sequence-set`), including `*` and SEARCHRES `$`
(RFC 5182)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

# A range bound of None stands for "*": the highest number in use.
Bound = int | None


@dataclass(frozen=True)
class NumSet:
    ranges: tuple[tuple[Bound, Bound], ...] = field(default_factory=tuple)
    # RFC 5182: "$" refers to the saved result of the last SEARCH ... RETURN (SAVE).
    search_result: bool = False

    def _resolved(self, largest: int) -> Iterator[tuple[int, int]]:
        for a, b in self.ranges:
            lo = largest if a is None else a
            hi = largest if b is None else b
            if lo > hi:
                lo, hi = hi, lo
            yield lo, hi

    def contains(self, n: int, largest: int) -> bool:
        return any(lo <= n <= hi for lo, hi in self._resolved(largest))

    def select(self, numbers: Iterable[int], largest: int) -> list[int]:
        """The numbers of `numbers` (sorted ascending) in this set."""
        ranges = sorted(self._resolved(largest))
        return [n for n in numbers if any(lo <= n <= hi for lo, hi in ranges)]

    def interval_count(self) -> int:
        return len(self.ranges)

    def __str__(self) -> str:
        if self.search_result:
            return "$"
        return format_ranges(self.ranges)


def format_ranges(ranges: Iterable[tuple[Bound, Bound]]) -> str:
    parts = []
    for a, b in ranges:
        sa = "*" if a is None else str(a)
        sb = "*" if b is None else str(b)
        parts.append(sa if a == b else f"{sa}:{sb}")
    return ",".join(parts)


def compact(numbers: Iterable[int]) -> str:
    """Sorted numbers as a sequence set with ranges, e.g. `1:3,7` (for COPYUID, ESEARCH)."""
    out: list[tuple[int, int]] = []
    for n in sorted(set(numbers)):
        if out and out[-1][1] + 1 == n:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return format_ranges(out)


def compact_ordered(numbers: list[int]) -> str:
    """Like `compact` but keeping the given order (COPYUID pairs source and dest UIDs)."""
    out: list[tuple[int, int]] = []
    for n in numbers:
        if out and out[-1][1] + 1 == n:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return format_ranges(out)
