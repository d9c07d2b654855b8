#!/usr/bin/env bash
# IPC and TCP benchmarks (ABI v1 families) against bare-host floors. See bench/README.md.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
py=$(python3 -c 'import sys; print(sys.executable)') || { echo "bench/ipc_tcp.sh: python3 not found" >&2; exit 1; }
exec "$py" bench/ipc_tcp.py "$@"
