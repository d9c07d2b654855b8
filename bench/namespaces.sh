#!/usr/bin/env bash
# Start-up cost of the worker's namespaces and identity drop (bench/namespaces.py): hello -> first heartbeat of
# examples/hello under ukernel strict (namespaces), the same without them (a baseline checkout, optional), and
# insecure; the jail alone; bwrap doing comparable work against bare python3.
# Usage: bench/namespaces.sh [-n RUNS] [--baseline <launcher of an older checkout>].
# Installs bubblewrap when missing and apt-get is there (as root); skips it otherwise. nsjail is not packaged by
# Debian 12: it is reported as not measured.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
if ! command -v bwrap >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null 2>&1 \
    || echo "bench: could not install bubblewrap; its row is skipped" >&2
fi
exec python3 "$root/bench/namespaces.py" "$@"
