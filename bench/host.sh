#!/usr/bin/env bash
# Warm-host benchmark: ./ukernel run -d examples/hello to its first heartbeat with the resident host running,
# against bare python3 and the foreground run. See bench/host.py and bench/README.md.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
py=$(python3 -c 'import sys; print(sys.executable)') || { echo "bench/host.sh: python3 not found" >&2; exit 1; }
exec "$py" bench/host.py "$@"
