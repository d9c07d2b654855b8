#!/usr/bin/env bash
# Both benchmarks, one after the other (never in parallel: these are 2-CPU machines), after a description of
# the machine. Output also goes to bench/out/run-all-<date>.txt. Exits non-zero when either benchmark failed.
# See bench/README.md.
set -uo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
py=$(python3 -c 'import sys; print(sys.executable)') || { echo "bench/run-all.sh: python3 not found" >&2; exit 1; }
mkdir -p bench/out
out="bench/out/run-all-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  failed=0
  "$py" bench/machine.py
  echo
  echo "== bench/startup.sh"
  "$py" bench/startup.py || failed=1
  echo
  echo "== bench/host.sh"
  "$py" bench/host.py || failed=1
  echo
  echo "== bench/roundtrip.sh"
  "$py" bench/roundtrip.py || failed=1
  exit "$failed"
} 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
echo "(written to $out)"
exit "$status"
