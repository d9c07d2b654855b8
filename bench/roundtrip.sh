#!/usr/bin/env bash
# ABI round-trip benchmark: time_monotonic_ns calls/s through ukernel, against a raw socketpair ping-pong.
# See bench/README.md. Runs on the real interpreter behind python3 (not through a version-manager shim).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
py=$(python3 -c 'import sys; print(sys.executable)') || { echo "bench/roundtrip.sh: python3 not found" >&2; exit 1; }
exec "$py" bench/roundtrip.py "$@"
