#!/usr/bin/env bash
# Boots a packed ukernel image under Firecracker, for users who have a Firecracker binary and KVM:
#
#   ukernel pack [APP]                      # writes dist/NAME.img, NAME.vmlinux, NAME.firecracker.json
#   scripts/run_fc.sh [APP] [-- FIRECRACKER_ARGS...]
#
# It runs `firecracker --config-file dist/NAME.firecracker.json` (no API calls: the boot source, machine and
# drives come from the file; `ukernel run --real` drives the same VM over the API instead), streams the serial
# console to the terminal and APP/logs/console.log, and exits with the app's status (the guest's last line,
# "ukernel: app exited with status N"), or 70 when the VM ended without one.
#
# Environment: UKERNEL_FIRECRACKER (the binary; default: firecracker on PATH), UKERNEL_KERNEL (a vmlinux instead
# of dist/NAME.vmlinux), UKERNEL_ROOTFS (an image instead of dist/NAME.img). Ctrl-C ends Firecracker at once;
# for a clean stop (Ctrl-Alt-Del to the guest) use `ukernel run --real` and `ukernel stop`.
set -euo pipefail

app=.
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  app=$1
  shift
fi
[ "${1:-}" = "--" ] && shift

die() { echo "run_fc.sh: $*" >&2; exit 1; }

[ -f "$app/ukernel.toml" ] || die "$app has no ukernel.toml"
name=$(sed -n 's/^name *= *"\([^"]*\)".*/\1/p' "$app/ukernel.toml" | head -1)
[ -n "$name" ] || die "no name in $app/ukernel.toml"
config="$app/dist/$name.firecracker.json"
[ -f "$config" ] || die "no $config: run \`ukernel pack $app\` first"

fc=${UKERNEL_FIRECRACKER:-$(command -v firecracker || true)}
[ -n "$fc" ] && [ -x "$fc" ] || die "no Firecracker binary: set UKERNEL_FIRECRACKER or put firecracker on PATH \
(releases: https://github.com/firecracker-microvm/firecracker/releases). Without KVM use \`ukernel run --vmm qemu\`."
if [ ! -w /dev/kvm ]; then
  echo "run_fc.sh: warning: /dev/kvm is missing or not writable; Firecracker needs KVM" >&2
fi

work=$(mktemp -d /tmp/ukernel-fc-XXXXXX)
trap 'rm -rf "$work"' EXIT
# The packed config names absolute paths; UKERNEL_KERNEL / UKERNEL_ROOTFS replace them.
python3 - "$config" "$work/config.json" <<'PY'
import json, os, sys
cfg = json.load(open(sys.argv[1]))
boot = cfg["boot-source"]
if os.environ.get("UKERNEL_KERNEL"):
    boot["kernel_image_path"] = os.path.abspath(os.environ["UKERNEL_KERNEL"])
if os.environ.get("UKERNEL_ROOTFS"):
    boot["initrd_path"] = os.path.abspath(os.environ["UKERNEL_ROOTFS"])
for key in ("kernel_image_path", "initrd_path"):
    if key in boot and not os.path.isfile(boot[key]):
        sys.exit("run_fc.sh: %s %s does not exist (repack with `ukernel pack`)" % (key, boot[key]))
json.dump(cfg, open(sys.argv[2], "w"), indent=2)
PY

mkdir -p "$app/logs"
log="$app/logs/console.log"
[ -f "$log" ] && mv -f "$log" "$log.1"
set +e
"$fc" --api-sock "$work/api.sock" --config-file "$work/config.json" "$@" | tr -d '\r' | tee "$log"
fc_status=${PIPESTATUS[0]}
set -e
status=$(sed -n 's/^ukernel: app exited with status \([0-9][0-9]*\)$/\1/p' "$log" | tail -1)
if [ -z "$status" ]; then
  echo "run_fc.sh: the VM ended (firecracker status $fc_status) without the app's status; see $log" >&2
  exit 70
fi
exit "$status"
