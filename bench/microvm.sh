#!/usr/bin/env bash
# microVM boot benchmark: QEMU -M microvm booting the ukernel image to the kernel's first console line and to the
# first heartbeat, against the same QEMU and guest kernel booting a one-line static init (the floor); image size
# per part. See bench/microvm.py for the method; results go in bench/microvm-RESULTS.md.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
py=$(python3 -c 'import sys; print(sys.executable)') || { echo "bench/microvm.sh: python3 not found" >&2; exit 1; }
exec "$py" bench/microvm.py "$@"
