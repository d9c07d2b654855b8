#!/usr/bin/env bash
# What running a program costs a confined worker (bench/spawn.py): spawns of /bin/true through asyncio and
# subprocess.run under ukernel strict, --insecure-no-sandbox and bare python3 (the floor), rounds alternated.
# Usage: bench/spawn.sh [-n ROUNDS] [-s SPAWNS]
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
exec python3 "$root/bench/spawn.py" "$@"
