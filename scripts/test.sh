#!/usr/bin/env bash
# Run the suite on SQLite, then on PostgreSQL if one answers at 127.0.0.1:5432.
# Prints which databases ran; fails if any run failed.
set -u
cd "$(dirname "$0")/.."
PY=.venv/bin/python
ran=()
status=0

echo "== tests on SQLite"
env -u DATABASE_URL $PY -m pytest "$@" || status=1
ran+=("sqlite:$([ $status = 0 ] && echo passed || echo FAILED)")

if $PY - <<'PYEOF'
import socket, sys
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("127.0.0.1", 5432))
except OSError:
    sys.exit(1)
PYEOF
then
  echo "== tests on PostgreSQL (127.0.0.1:5432)"
  # Not run twice: these tests choose their own database whatever DATABASE_URL says
  # (the benchmarks run moxweb on SQLite, the scale-out test makes its own PostgreSQL
  # database), so the SQLite pass above already ran them exactly as this one would.
  echo "   (tests/bench and tests/scaling/test_scale_out.py ran in the SQLite pass: they pick their own database)"
  pg=0
  DATABASE_URL="postgresql://postgres@127.0.0.1:5432/moxweb" $PY -m pytest \
    --deselect tests/bench --deselect tests/scaling/test_scale_out.py "$@" || pg=1
  [ $pg = 0 ] || status=1
  ran+=("postgresql:$([ $pg = 0 ] && echo passed || echo FAILED)")
else
  echo "== no PostgreSQL at 127.0.0.1:5432: PostgreSQL run skipped"
fi
echo "databases tested: ${ran[*]}"
exit $status
