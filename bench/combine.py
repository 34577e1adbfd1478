"""Join the benchmarks' results (bench/results/smtp_ingest.md, imap_bench.md,
queue_delivery.md) into bench/results/latest.md, with the date and the machine.

    .venv/bin/python bench/combine.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, load, machine, now  # noqa: E402

PARTS = ("smtp_ingest", "imap_bench", "queue_delivery")


def combine(results: Path = RESULTS) -> str:
    sections = [
        f"# moxweb beside Postfix and Dovecot, combined {now()}",
        "",
        f"Machine: {machine()}; {load()} when combined. Each part ran moxweb and its peer in the same run;",
        "compare the ratios, not absolute figures across parts (the machine is shared).",
    ]
    for name in PARTS:
        path = results / f"{name}.md"
        sections.append("")
        if not path.exists():
            sections.append(f"## {name}\n\nnot run (no {path.name})")
            continue
        text = path.read_text().strip()
        # Each part's own "# title, date" heading becomes a section heading.
        first, _, rest = text.partition("\n")
        sections.append("#" + first if first.startswith("# ") else f"## {name}\n\n{first}")
        sections.append(rest.rstrip())
    return "\n".join(sections) + "\n"


def main() -> None:
    text = combine()
    (RESULTS / "latest.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
