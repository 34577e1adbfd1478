"""Shared plumbing of the atheris harnesses (tests/fuzz/fuzz_*.py, run by
scripts/fuzz.sh): decode the fuzzer's bytes the way a parser sees them, and let only
the parser's own errors pass. Anything else escaping is a crash the fuzzer saves."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def text(data: bytes) -> str:
    """Bytes as a listener hands them to a text parser (invalid UTF-8 kept as surrogates)."""
    return data.decode("utf-8", "surrogateescape")


def only(errors: tuple[type[BaseException], ...], fn: Callable[[], object]) -> None:
    try:
        fn()
    except errors:
        pass


def main(test_one_input: Callable[[bytes], None]) -> None:
    import atheris

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
