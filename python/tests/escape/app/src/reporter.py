"""Spawned by the escape app's main task with one channel endpoint: tells main the number of a handle of its own
(main must not be able to use it) and how its own cap_acquire beyond its policy ended, then waits for "done"."""

import json
import os

import ukernel


def main():
    ukernel.cap_acquire("LOG", "IPC")
    to_main = ukernel.Channel(int(os.environ["UKERNEL_HANDLES"]))
    mine, _peer = ukernel.Channel.pair()
    try:
        ukernel.cap_acquire("NET")
        beyond = "acquired"
    except ukernel.DeniedError as e:
        beyond = "DeniedError: %s" % e
    to_main.send(json.dumps({"handle": mine.handle, "cap_acquire_net": beyond}).encode())
    while True:
        try:
            data, _ = to_main.recv()
        except ukernel.WouldBlockError:
            to_main.wait(timeout=60)
            continue
        except ukernel.ClosedError:
            break
        if data == b"done":
            break
    ukernel.info("reporter: done")
    return 0
