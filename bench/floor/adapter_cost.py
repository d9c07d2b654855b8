"""The Python side of one call, without a peer process: what the adapter adds to a raw send + recv.

    python3 bench/floor/adapter_cost.py [CALLS]

Replies are written into a socketpair ahead of time, so no call ever waits for another process: what is timed
is only the caller's CPU and its two syscalls. The pair is SOCK_SEQPACKET so that each recv returns exactly one
reply, as it does in a real round trip (on a stream socket the client would slurp all queued replies in one
recv). Three loops, each over the same replies (21-byte time_monotonic_ns replies) in chunks of 64:

  raw      sock.send(12-byte request) + sock.recv_into(buf), as the ping-pong floor does;
  client   ukernel.Client.time_monotonic_ns() (encode, lock, send, recv_into, decode, result);
  module   ukernel.time_monotonic_ns(), what the benchmark app calls (adds the client() lookup).

Prints ``PART <name> ns_per_call=<ns>`` (the median over the chunks' per-call times, x 1).
"""

import os
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "python"))
import ukernel  # noqa: E402
from ukernel import _abi  # noqa: E402
from ukernel._wire import encode_reply  # noqa: E402

CHUNK = 64


def drain(sock):
    try:
        while sock.recv(1 << 16, socket.MSG_DONTWAIT):
            pass
    except BlockingIOError:
        pass


def measure(n, prefill, loop):
    times = []
    for _ in range(n // CHUNK):
        prefill()
        t0 = time.perf_counter_ns()
        loop(CHUNK)
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / CHUNK


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 64000
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    reply = bytes(21)
    request = bytes(12)
    buf = bytearray(4096)

    def raw(k):
        send, recv_into = a.send, a.recv_into
        for _ in range(k):
            send(request)
            recv_into(buf)

    def raw_prefill():
        drain(b)
        for _ in range(CHUNK):
            b.send(reply)

    client = ukernel.Client(a)
    ukernel._default = client  # what ukernel.client() returns in a worker
    seq = [client._seq]

    def client_prefill():
        drain(b)
        for i in range(1, CHUNK + 1):
            b.send(encode_reply((seq[0] + i) & 0xFFFFFFFF, _abi.OK, (12345,)))
        seq[0] += CHUNK

    def client_loop(k):
        call = client.time_monotonic_ns
        for _ in range(k):
            call()

    def module_loop(k):
        call = ukernel.time_monotonic_ns
        for _ in range(k):
            call()

    assert len(encode_reply(1, _abi.OK, (1,))) == len(reply), "the reply size is not 21 bytes any more"
    for name, prefill, loop in (("raw", raw_prefill, raw), ("client", client_prefill, client_loop),
                                ("module", client_prefill, module_loop)):
        measure(min(n, 6400), prefill, loop)  # warm-up
        print("PART %s ns_per_call=%.0f" % (name, measure(n, prefill, loop)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
