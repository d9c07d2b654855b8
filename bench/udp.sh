#!/usr/bin/env bash
# UDP echo through asyncio's datagram endpoint under ukernel versus bare CPython asyncio, same load, same run.
# Usage: bench/udp.sh [--clients N] [--seconds S] [--rounds R] [--size B]  (see bench/udp.py)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
py=$(python3 -c 'import sys; print(sys.executable)') || { echo "bench/udp.sh: python3 not found" >&2; exit 1; }
exec "$py" bench/udp.py "$@"
