"""The selector's poll must not wait when a callback was queued while the loop made its wake-up channel.

The event loop makes its wake-up channel lazily, in ``before_block`` (two kernel calls), when other threads exist.
A thread's ``call_soon_threadsafe`` that lands meanwhile finds no channel to nudge: its callback is only in the
ready queue. Found under load (compat/threads_executor hung in io_poll with every executor thread idle); here the
interleaving is forced with a fake client, no timing involved."""

from ukernel._selector import KernelSelector


class RecordingClient:
    """Answers every io_poll at once with nothing ready and records its timeout."""

    def __init__(self):
        self.timeouts = []

    def handle_of(self, key):
        return None

    def io_poll_flat(self, flat, timeout_ns):
        self.timeouts.append(timeout_ns)
        return []


def test_a_callback_queued_during_before_block_makes_the_poll_not_wait():
    client = RecordingClient()
    sel = KernelSelector(client)
    ready = []  # the loop's ready queue
    sel.ready_hint = ready
    sel.before_block = lambda: ready.append("a thread's callback")  # lands while the channel is being made
    assert sel.select(None) == []
    assert client.timeouts == [0], "the poll waited although a callback was ready: %r" % client.timeouts


def test_without_a_callback_the_poll_waits_as_asked():
    client = RecordingClient()
    sel = KernelSelector(client)
    sel.ready_hint = []
    sel.before_block = lambda: None
    sel.select(None)
    sel.select(2.5)
    assert client.timeouts[0] < 0 and client.timeouts[1] == 2_500_000_000, client.timeouts
