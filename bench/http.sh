#!/usr/bin/env bash
# aiohttp hello under wrk: ukernel run vs bare CPython asyncio, alternated, same run (see bench/http.py).
# Usage: bench/http.sh [--seconds S] [--rounds R]   Needs Debian's wrk and python3-aiohttp.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
py=$(python3 -c 'import sys; print(sys.executable)') || { echo "bench/http.sh: python3 not found" >&2; exit 1; }
exec "$py" bench/http.py "$@"
