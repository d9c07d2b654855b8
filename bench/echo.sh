#!/usr/bin/env bash
# TCP echo through an asyncio server under ukernel versus bare CPython asyncio, same load, same run.
# Usage: bench/echo.sh [--conns N] [--seconds S] [--rounds R] [--sizes 64,65536]  (see bench/echo.py)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
py=$(python3 -c 'import sys; print(sys.executable)') || { echo "bench/echo.sh: python3 not found" >&2; exit 1; }
exec "$py" bench/echo.py "$@"
