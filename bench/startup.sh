#!/usr/bin/env bash
# Start-up benchmark: ./ukernel run examples/hello to its first heartbeat, against bare python3. See bench/README.md.
# The harness runs on the real interpreter behind python3 (not through a version-manager shim), so PATH reaches
# ./ukernel exactly as the caller has it.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
py=$(python3 -c 'import sys; print(sys.executable)') || { echo "bench/startup.sh: python3 not found" >&2; exit 1; }
exec "$py" bench/startup.py "$@"
