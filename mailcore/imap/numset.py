"""Sequence sets (RFC 9051 section 9 `sequence-set`), including `*` and SEARCHRES `$`
(RFC 5182)."""
from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

# A range bound of None stands for "*": the highest number in use.
Bound = int | None
_MAX = 2**64


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

    def intervals(self, largest: int) -> list[tuple[int, int]]:
        """Sorted, merged, non-overlapping (lo, hi) intervals; lookups are then
        logarithmic, so a set of thousands of ranges cannot make a command quadratic."""
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(self._resolved(largest)):
            if merged and lo <= merged[-1][1] + 1:
                if hi > merged[-1][1]:
                    merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        return merged

    def contains(self, n: int, largest: int) -> bool:
        merged = self.intervals(largest)
        i = bisect.bisect_right(merged, (n, _MAX)) - 1
        return i >= 0 and merged[i][0] <= n <= merged[i][1]

    def select(self, numbers: Sequence[int], largest: int) -> list[int]:
        """The numbers of `numbers` (a sorted sequence, e.g. a list of UIDs or a range of
        sequence numbers) in this set, ascending."""
        out: list[int] = []
        for lo, hi in self.intervals(largest):
            a = bisect.bisect_left(numbers, lo)
            b = bisect.bisect_right(numbers, hi)
            out.extend(numbers[a:b])
        return out

    def select_positions(self, numbers: Sequence[int], largest: int) -> list[tuple[int, int]]:
        """(1-based position in `numbers`, number) of the numbers `select` gives, ascending:
        for UIDs of a mailbox view, (sequence number, UID) without a lookup per UID."""
        out: list[tuple[int, int]] = []
        for lo, hi in self.intervals(largest):
            a = bisect.bisect_left(numbers, lo)
            b = bisect.bisect_right(numbers, hi)
            out.extend(zip(range(a + 1, b + 1), numbers[a:b]))
        return out

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


def gaps(present: Sequence[int], upto: int) -> list[tuple[int, int]]:
    """The intervals of 1..upto not in `present` (sorted), without listing every number."""
    out: list[tuple[int, int]] = []
    prev = 0
    for n in present:
        if n > upto:
            break
        if n > prev + 1:
            out.append((prev + 1, n - 1))
        prev = max(prev, n)
    if upto > prev:
        out.append((prev + 1, upto))
    return out


def intersect(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Intersection of two sorted lists of disjoint intervals."""
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def vanished(expunged: list[int] | None, present: Sequence[int], known: NumSet | None, upto: int) -> str:
    """The UID set of a `VANISHED (EARLIER)` response (RFC 7162 section 3.2.5.2 and
    3.2.6): the expunged UIDs in `known` that are not `present`; when the server no
    longer knows what was expunged (`expunged` is None), every UID up to `upto` in
    `known` that is not present, which the RFC allows since clients ignore UIDs they do
    not have. Empty when there is nothing to report."""
    within = known.intervals(upto) if known is not None else [(1, upto)]
    if expunged is None:
        return format_ranges(intersect(gaps(present, upto), within))
    largest = max(upto, max(expunged, default=0))
    within = known.intervals(largest) if known is not None else [(1, largest)]
    here = set(present)
    return compact(u for u in expunged if u not in here and _in(within, u))


def _in(intervals: list[tuple[int, int]], n: int) -> bool:
    i = bisect.bisect_right(intervals, (n, _MAX)) - 1
    return i >= 0 and intervals[i][0] <= n <= intervals[i][1]
