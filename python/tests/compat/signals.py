"""Signals through the loop: add_signal_handler for SIGUSR1 and SIGUSR2, the process signals itself while the loop
waits with nothing else to do, the callbacks run on the loop; remove_signal_handler restores the default."""

import asyncio
import os
import signal
import threading


async def main():
    loop = asyncio.get_running_loop()
    got = []
    both = asyncio.Event()

    first_handled = threading.Event()

    def on_signal(name):
        got.append(name)
        first_handled.set()
        if len(got) == 2:
            both.set()

    loop.add_signal_handler(signal.SIGUSR1, on_signal, "USR1")
    loop.add_signal_handler(signal.SIGUSR2, on_signal, "USR2")
    # from another thread, so that the signal arrives while the loop waits (Python runs the handler in the main
    # thread, the loop's); SIGUSR2 only once SIGUSR1 was handled, so the order is the program's, not the scheduler's
    def send_both():
        os.kill(os.getpid(), signal.SIGUSR1)
        if first_handled.wait(60):
            os.kill(os.getpid(), signal.SIGUSR2)

    threading.Timer(0.05, send_both).start()
    await asyncio.wait_for(both.wait(), 120)
    assert got == ["USR1", "USR2"], got
    assert loop.remove_signal_handler(signal.SIGUSR1) and loop.remove_signal_handler(signal.SIGUSR2)
    assert not loop.remove_signal_handler(signal.SIGUSR1)
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    try:
        loop.add_signal_handler(signal.SIGKILL, on_signal, "KILL")
        raise AssertionError("SIGKILL cannot be caught")
    except (RuntimeError, OSError):
        pass
    print("COMPAT OK signals")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
