#!/usr/bin/env bash
# Sockets a worker makes itself (seccomp user notification) under ukernel versus bare CPython, same run.
# Usage: bench/own_sockets.sh [--short N] [--long N] [--reps R]  (see bench/own_sockets.py)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
py=$(python3 -c 'import sys; print(sys.executable)') || { echo "bench/own_sockets.sh: python3 not found" >&2; exit 1; }
exec "$py" bench/own_sockets.py "$@"
