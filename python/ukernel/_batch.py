"""Batches: many calls in one write, their replies matched by ``seq``."""

from . import _abi
from ._calls import _specs, check_argc, result, spec

__all__ = ["Batch", "BatchResult"]


class BatchResult:
    """The outcome of one call of a batch, available once the batch is sent."""

    __slots__ = ("_spec", "_seq", "_args", "_reply", "_error")

    def __init__(self, s, seq, args):
        self._spec = s
        self._seq = seq
        self._args = args
        self._reply = None
        self._error = None

    @property
    def call(self):
        return self._spec.name

    @property
    def seq(self):
        return self._seq

    def done(self):
        return self._reply is not None or self._error is not None

    def result(self):
        """The call's results, or raises its error (``RuntimeError`` before the batch is sent)."""
        if self._reply is None:
            if self._error is not None:
                raise self._error
            raise RuntimeError("%s: the batch has not been sent yet (read results after the with block)"
                               % self._spec.name)
        return result(self._spec, self._reply, self._args)

    def exception(self):
        """The call's error, or ``None`` when it succeeded."""
        try:
            self.result()
        except Exception as e:
            return e
        return None

    def __repr__(self):
        state = "done" if self.done() else "pending"
        return "<BatchResult %s seq=%d %s>" % (self._spec.name, self._seq, state)


class Batch:
    """Calls collected to travel in one write. Use as a context manager; see :meth:`Client.batch`."""

    __slots__ = ("_client", "_frames", "_results", "_sent")

    def __init__(self, client):
        self._client = client
        self._frames = []
        self._results = []
        self._sent = False

    def call(self, name, *args):
        """Queues a call (its arguments are checked now); returns its :class:`BatchResult`."""
        if self._sent:
            raise RuntimeError("this batch was already sent")
        s = _specs.get(name) or spec(name)
        check_argc(s, args)
        seq = self._client._next_seq()
        self._frames.append(s.encode(seq, args))
        r = BatchResult(s, seq, args)
        self._results.append(r)
        return r

    def __getattr__(self, name):
        if name in _abi.CALLS:
            return lambda *args: self.call(name, *args)
        raise AttributeError(name)

    def __len__(self):
        return len(self._frames)

    def send(self):
        """Writes every queued frame at once and reads all replies."""
        if self._sent:
            raise RuntimeError("this batch was already sent")
        self._sent = True
        if self._frames:
            self._client._run_batch(self._frames, self._results)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self._sent = True
            for r in self._results:
                r._error = RuntimeError("%s: not sent, the batch's block raised %s" % (r.call, exc_type.__name__))
            return False
        self.send()
        return False
