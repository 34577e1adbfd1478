#!/usr/bin/env bash
# `make fuzz`: atheris (libFuzzer) campaigns over the parsers, one per harness in
# tests/fuzz/fuzz_<parser>.py, each seeded from tests/fuzz/corpus/<parser>/.
#   FUZZ_SECONDS  seconds per campaign (default 60)
#   FUZZ_TARGETS  space-separated parser names (default: every harness)
# New inputs that reach new code go to data/fuzz/<parser>/corpus (the seeds under
# tests/ stay as committed); a crash is saved as data/fuzz/<parser>/crash-<hash> and
# the script exits non-zero. atheris is installed into the venv here, not from the
# requirements files (3.0.0 is the newest release the package index offers).
set -u
cd "$(dirname "$0")/.."
PY=.venv/bin/python
SECONDS_EACH="${FUZZ_SECONDS:-60}"
ATHERIS_VERSION="${ATHERIS_VERSION:-3.0.0}"

if ! $PY -c "import atheris" 2>/dev/null; then
  $PY -m pip install --quiet "atheris==$ATHERIS_VERSION" || { echo "fuzz: cannot install atheris"; exit 1; }
fi

targets="${FUZZ_TARGETS:-}"
if [ -z "$targets" ]; then
  for f in tests/fuzz/fuzz_*.py; do
    name="$(basename "$f" .py)"
    targets="$targets ${name#fuzz_}"
  done
fi

failed=()
for t in $targets; do
  harness="tests/fuzz/fuzz_$t.py"
  [ -f "$harness" ] || { echo "fuzz: no harness $harness"; exit 2; }
  work="data/fuzz/$t"
  mkdir -p "$work/corpus" "tests/fuzz/corpus/$t"
  echo "== fuzz $t for ${SECONDS_EACH}s"
  # The first corpus directory receives new units; the committed seeds are only read.
  if $PY "$harness" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus" "tests/fuzz/corpus/$t" \
      >"$work/log.txt" 2>&1; then
    echo "   ok: $(grep -E '^stat::number_of_executed_units' "$work/log.txt" | awk '{print $2}') runs," \
         "corpus $(find "$work/corpus" -type f | wc -l) new units"
  else
    echo "   CRASH in $t: $(ls "$work"/crash-* "$work"/timeout-* "$work"/oom-* 2>/dev/null | tr '\n' ' ')"
    grep -E "^(Traceback|  File|[A-Za-z]+Error|=== Uncaught)" "$work/log.txt" | tail -15
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (inputs under data/fuzz/<parser>/)"
  exit 1
fi
echo "fuzz: no crashes in:$targets"
