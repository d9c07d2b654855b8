"""The task's entry: runs the C program ``c-worker`` (``[caps] subprocess``) on this task's kernel connection and
ends with its status. The program speaks for the task (its capabilities and scopes, the task's name on the
console) and runs confined as this worker is; this process makes no kernel call until it is done."""

import os
import subprocess

import ukernel


def main():
    program = next((p for p in ukernel.programs() if os.path.basename(p) == "c-worker"), None)
    if program is None:
        ukernel.error("c-worker is not among the programs this task may run: build it and put its directory on the "
                      "kernel's PATH (examples/c-worker/README.md); a run without the sandbox cannot run programs "
                      "here")
        return 2
    fd = ukernel.client().fileno()
    # The connection is close-on-exec (a program never holds it unasked); this one is handed on on purpose.
    return subprocess.run([program], pass_fds=(fd,), env={"UKERNEL_CONNECTION_FD": str(fd)}).returncode
