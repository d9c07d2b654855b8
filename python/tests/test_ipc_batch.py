"""Channels without a blocking round trip per message (ABI 1.3, ``ipc_send_many``/``ipc_recv_many``) through the
real kernel: ``ukernel.aio`` sends buffered and handed over many per call, receives taken many per call, in order
and none lost under random sizes and bursts through a small queue; handle moves between buffered messages; the
kernel's bound on what it holds for a stalled receiver under a flood; a peer that exits; a peer that closes."""

from test_e2e_kernel import PROBE, check, run_app, write_app

import pytest


@pytest.fixture
def app_dir(tmp_path):
    if PROBE.error:
        pytest.fail(PROBE.error, pytrace=False)
    return tmp_path / "app"


MANIFEST = """
    name = "ipc-batch"
    entry = "src/main.py"
    [caps]
    grant = ["LOG", "TASK", "IPC"]
    [limits]
    channel_bytes = 65536

    [[task]]
    name = "child"
    entry = "src/child.py"
    caps = ["LOG", "IPC"]
    start = "spawn"
    """

CHILD = """
    import hashlib
    import os

    import ukernel
    import ukernel.aio as aio


    async def main():
        ukernel.cap_acquire("LOG|IPC")
        ch = aio.Channel(aio.inherited_handles()[0])
        mode = os.environ.get("MODE", "")
        if mode == "exit":            # ends at once, with the producer still sending
            return 3
        if mode == "stall":           # reads nothing until told (a message on the control channel)
            ctl = aio.Channel(aio.inherited_handles()[1])
            await ctl.recv()
            got = 0
            async for data, handles in ch:
                got += 1
            await ctl.send(b"%d" % got)
            await ctl.drain()
            return 0
        # "order": check sequence numbers and contents; handles travel with the message that names them
        expect = 0
        moved = 0
        async for data, handles in ch:
            seq = int.from_bytes(data[:4], "little")
            assert seq == expect, (seq, expect)
            assert data[4:] == hashlib.sha256(data[:4]).digest() * (len(data[4:]) // 32), seq
            if handles:
                side = aio.Channel(handles[0])
                await side.send(b"side %d" % seq)
                await side.aclose()
                moved += 1
            expect += 1
        ukernel.info("CHILD GOT %d MOVED %d" % (expect, moved))
        return 0 if expect == int(os.environ["N"]) else 1
    """


def test_random_bursts_arrive_in_order_none_lost_with_handle_moves(app_dir):
    write_app(app_dir, MANIFEST, {"src/main.py": """
        import asyncio
        import hashlib
        import random

        import ukernel
        import ukernel.aio as aio

        N = 6000


        async def main():
            ukernel.cap_acquire("LOG|TASK|IPC")
            rnd = random.Random(11)
            tx, rx = aio.Channel.pair()
            child = await aio.spawn("child", "LOG|IPC", handles=[rx])
            sides = []
            seq = 0
            while seq < N:
                for _ in range(rnd.choice((1, 3, 50, 400))):   # bursts, some beyond the outbox bound
                    if seq == N:
                        break
                    size = rnd.choice((0, 1, 31, 200, 5000, 60000)) // 32
                    head = seq.to_bytes(4, "little")
                    data = head + hashlib.sha256(head).digest() * size
                    if seq % 997 == 5:                         # a handle between buffered messages
                        mine, theirs = aio.Channel.pair()
                        await tx.send(data, [theirs])
                        assert theirs.closed
                        sides.append((seq, mine))
                    else:
                        await tx.send(data)
                    seq += 1
                if rnd.random() < 0.3:
                    await asyncio.sleep(0)
            await tx.aclose()
            for n, mine in sides:
                assert await mine.recv() == (b"side %d" % n, [])
            assert await child.wait(timeout=120) == 0
            ukernel.info("ORDER OK %d sides" % len(sides))
            return 0
        """, "src/child.py": CHILD})
    check(run_app(app_dir, 240, "-e", "N=6000", "-e", "MODE=order"), "ORDER OK 7 sides", "CHILD GOT 6000 MOVED 7")


def test_flooding_a_stalled_receiver_the_kernel_holds_at_most_the_bound(app_dir):
    write_app(app_dir, MANIFEST, {"src/main.py": """
        import asyncio

        import ukernel
        import ukernel.aio as aio
        from ukernel import _objects

        LIMIT = 65536           # limits.channel_bytes
        COST = 100 + 64         # payload + the kernel's per-message overhead


        async def main():
            ukernel.cap_acquire("LOG|TASK|IPC")
            tx, rx = aio.Channel.pair()
            ctl, ctl_theirs = aio.Channel.pair()
            child = await aio.spawn("child", "LOG|IPC", handles=[rx, ctl_theirs])
            # the flood: ipc_send_many of 1024 messages, again and again, the receiver reading nothing
            batch = [b"f" * 100] * 1024
            accepted = 0
            refused = 0
            for _ in range(300):
                try:
                    accepted += tx.sync.send_many(batch)
                except ukernel.WouldBlockError:
                    refused += 1
            assert accepted * COST <= LIMIT, accepted
            assert refused >= 299, refused
            # the same through aio.send: the sender's own buffer stays bounded, the task waits for room
            sender = asyncio.ensure_future(flood_aio(tx))
            while not (tx.handle in tx.client.channels
                       and len(tx.client.channels[tx.handle].outbox) >= _objects.OUTBOX_MESSAGES):
                await asyncio.sleep(0)
            for _ in range(50):
                await asyncio.sleep(0)
            assert not sender.done()
            b = tx.client.channels[tx.handle]
            # what the refused runs left here: bounded, nothing in flight, the sender waiting for room
            assert _objects.OUTBOX_MESSAGES <= len(b.outbox) <= 2 * _objects.OUTBOX_MESSAGES, len(b.outbox)
            assert b.inflight is None
            await ctl.send(b"go")
            sent = await asyncio.wait_for(sender, 120)
            await tx.aclose()
            got = int((await ctl.recv()).data)
            assert got == accepted + sent, (got, accepted, sent)
            assert await child.wait(timeout=60) == 0
            ukernel.info("FLOOD BOUNDED accepted=%d then %d" % (accepted, sent))
            return 0


        async def flood_aio(tx):
            for i in range(5000):
                await tx.send(b"a" * 100)
            return 5000
        """, "src/child.py": CHILD})
    check(run_app(app_dir, 240, "-e", "MODE=stall"), "FLOOD BOUNDED")


def test_peer_exit_gives_the_sender_a_clear_error_and_close_is_seen_after_the_data(app_dir):
    write_app(app_dir, MANIFEST, {"src/main.py": """
        import asyncio

        import ukernel
        import ukernel.aio as aio


        async def main():
            ukernel.cap_acquire("LOG|TASK|IPC")
            tx, rx = aio.Channel.pair()
            child = await aio.spawn("child", "LOG|IPC", handles=[rx])
            assert await child.wait(timeout=60) == 3
            try:
                for _ in range(10000):
                    await tx.send(b"to nobody")
                await tx.drain()
                raise AssertionError("sends to an exited peer must fail")
            except ukernel.ClosedError:
                pass
            # the other way: the sender closes with messages still buffered; the reader gets all, then the end
            a, b = aio.Channel.pair()
            for i in range(300):
                await a.send(b"%d" % i)
            a.close()                    # deferred behind what is buffered
            got = [m.data async for m in b]
            assert got == [b"%d" % i for i in range(300)], got[:5]
            ukernel.info("PEER EXIT OK")
            return 0
        """, "src/child.py": CHILD})
    check(run_app(app_dir, 120, "-e", "MODE=exit"), "PEER EXIT OK")
