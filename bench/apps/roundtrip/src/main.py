"""ABI round trip: calls/s of ukernel.time_monotonic_ns() from Python, one call at a time and in batches.

Environment (`ukernel run bench/apps/roundtrip -e CALLS=200000`): CALLS per repetition (default 200000), REPS
repetitions of each variant (default 3), BATCH calls per batch (default 64), WARMUP calls first (default 20000),
PIN_CPU: when set, the worker pins itself to that CPU first (the benchmark's split-CPU pass).
Each repetition prints one line ``RESULT <variant> rep=<i> calls=<n> ns=<elapsed> calls_per_s=<rate>``; the
elapsed time is measured with the host's time.perf_counter_ns (not a kernel call, so it adds none).
"""

import os
import time

import ukernel


def _env(name, default):
    return int(os.environ.get(name, default))


def single(call, n):
    t0 = time.perf_counter_ns()
    for _ in range(n):
        call()
    return time.perf_counter_ns() - t0


def batched(client, n, size):
    """n calls (rounded down to whole batches) of `size` calls each; every result is read, as a caller would."""
    t0 = time.perf_counter_ns()
    for _ in range(n // size):
        with client.batch() as b:
            results = [b.call("time_monotonic_ns") for _ in range(size)]
        for r in results:
            r.result()
    return time.perf_counter_ns() - t0


def report(variant, rep, n, ns):
    ukernel.info("RESULT %s rep=%d calls=%d ns=%d calls_per_s=%.0f" % (variant, rep, n, ns, n * 1e9 / ns))


def main():
    ukernel.cap_acquire(ukernel.Cap.LOG, ukernel.Cap.TIME)
    if os.environ.get("PIN_CPU"):
        try:
            os.sched_setaffinity(0, {int(os.environ["PIN_CPU"])})
        except OSError as e:
            ukernel.error("cannot pin to CPU %s: %s" % (os.environ["PIN_CPU"], e))
            return 1
    n, reps, size, warm = _env("CALLS", 200000), _env("REPS", 3), _env("BATCH", 64), _env("WARMUP", 20000)
    client = ukernel.client()
    call = ukernel.time_monotonic_ns

    before = call()
    single(call, warm)
    for rep in range(reps):
        report("single", rep, n, single(call, n))

    batched(client, warm, size)
    whole = n // size * size
    for rep in range(reps):
        report("batch%d" % size, rep, whole, batched(client, whole, size))
    if not call() > before:
        ukernel.error("time_monotonic_ns did not advance")
        return 1
    return 0
