#!/usr/bin/env bash
# OCI image benchmark: layer sizes of examples/hello's image, a one-line change's repack time and new bytes, and
# start -> first heartbeat under runc vs the process platform vs bare python3. Method: bench/oci.py's docstring;
# results: bench/oci-RESULTS.md.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
py=$(python3 -c 'import sys; print(sys.executable)') || { echo "bench/oci.sh: python3 not found" >&2; exit 1; }
exec "$py" bench/oci.py "$@"
