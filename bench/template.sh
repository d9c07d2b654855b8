#!/usr/bin/env bash
# Warm templates: examples/web (aiohttp) to its first HTTP answer, warm template vs cold host vs bare python3.
# See bench/template.py and bench/README.md.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
py=$(python3 -c 'import sys; print(sys.executable)') || { echo "bench/template.sh: python3 not found" >&2; exit 1; }
exec "$py" bench/template.py "$@"
