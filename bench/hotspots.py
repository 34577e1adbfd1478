"""The hottest functions in a py-spy raw (collapsed stacks) profile: by own time (the
innermost frame) and by inclusive time (anywhere on the stack), project code only
unless --all.

    python bench/hotspots.py PROFILE.txt [--top 12] [--all]
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def parse(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


ROOT = Path(__file__).resolve().parents[1]
PACKAGES = tuple(p.name + "/" for p in ROOT.iterdir() if (p / "__init__.py").exists() and p.name != "bench")


def ours(frame: str) -> bool:
    """A frame of the project's code: "name (package/module.py:line)"."""
    where = frame.rpartition(" (")[2]
    return where.startswith(PACKAGES) or f"{ROOT}/" in where and "/.venv/" not in where


def report(path: Path, top: int, everything: bool) -> str:
    stacks = parse(path)
    total = sum(c for _, c in stacks) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        own[frames[-1]] += count
        mine = [f for f in frames if everything or ours(f)]
        for f in set(mine):
            inclusive[f] += count
        if mine:
            own["(project) " + mine[-1]] += count
    lines = [f"{path.name}: {total} samples", "own time (innermost frame):"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in own.most_common(top) if not f.startswith("(project)")]
    lines.append("innermost project frame:")
    lines += [f"  {100 * c / total:5.1f}%  {f[10:]}" for f, c in own.most_common() if f.startswith("(project)")][:top]
    lines.append("inclusive:")
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in inclusive.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profiles", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--all", action="store_true")
    args = parser.parse_args()
    for path in args.profiles:
        print(report(path, args.top, args.all))
        print()


if __name__ == "__main__":
    main()
