#!/usr/bin/env bash
# Start-up cost of confinement (bench/confine.py): ukernel with and without its sandbox, bare python3,
# bwrap --unshare-all python3 and firejail --quiet python3 running examples/hello/src/main.py.
# Usage: bench/confine.sh [-n RUNS]. Installs nothing: bubblewrap and firejail are Debian packages
# (apt-get install bubblewrap firejail); a missing or failing one is reported, not measured.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
exec python3 "$root/bench/confine.py" "$@"
