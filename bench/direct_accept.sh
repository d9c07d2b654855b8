#!/usr/bin/env bash
# Short-lived connections through a kernel listener: direct (granted) and buffered, against bare floors. See bench/README.md.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
py=$(python3 -c 'import sys; print(sys.executable)') || { echo "bench/direct_accept.sh: python3 not found" >&2; exit 1; }
exec "$py" bench/direct_accept.py "$@"
