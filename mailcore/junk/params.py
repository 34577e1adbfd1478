"""Junk filter parameters, with mox's defaults for new accounts (mox config JunkFilter)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Params:
    # Probability above which a message is junk (mox compares `probability <= threshold`
    # to accept).
    threshold: float = 0.95
    # Which word combinations are counted: single words, and runs of two and three.
    onegrams: bool = True
    twograms: bool = False
    threegrams: bool = False
    # A word's spamminess is kept within [max_power, 1 - max_power].
    max_power: float = 0.01
    # At most this many of the most hammy and of the most spammy words are combined.
    top_words: int = 10
    # Words closer than this to 0.5 say nothing and are left out.
    ignore_words: float = 0.1
    # Words seen at most this often (ham + spam) are pulled towards 0.5.
    rare_words: int = 2

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> Params:
        """From an account's `junk_filter` JSON; unknown keys are ignored, missing ones
        take the defaults, and values of the wrong type raise ValueError."""
        kwargs: dict[str, object] = {}
        for f in fields(cls):
            if f.name not in values:
                continue
            value = values[f.name]
            default = getattr(cls, f.name)
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"junk filter parameter {f.name} must be true or false, not {value!r}")
            elif isinstance(default, int):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"junk filter parameter {f.name} must be a whole number >= 0, not {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"junk filter parameter {f.name} must be a number from 0 to 1, not {value!r}")
            else:
                value = float(value)
            kwargs[f.name] = value
        return cls(**kwargs)  # type: ignore[arg-type]
