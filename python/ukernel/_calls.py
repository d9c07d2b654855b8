"""Call signatures prepared for the fast path, and how a reply becomes results or an exception."""

from struct import Struct as _Struct

from . import _abi
from ._errors import ProtocolError, error_for
from ._wire import TAG_NAMES, request_encoder

__all__ = ["spec", "check_argc", "result", "kernel_log_level", "log_chunks", "LOG_MESSAGE_LIMIT", "SEQ_MASK"]

SEQ_MASK = 0xFFFFFFFF
# Most message bytes per log_write.
LOG_MESSAGE_LIMIT = _abi.MAX_LOG_BYTES
_PY_TYPES = {_abi.TAG_I64: int, _abi.TAG_BYTES: bytes, _abi.TAG_I64S: tuple}


class _Spec:
    """One call's signature, prepared for the fast path."""

    __slots__ = ("name", "number", "cap", "argtags", "restags", "restypes", "nres", "type0", "encode", "encode_parts")

    def __init__(self, name):
        number, cap, argtags, restags, _reserved = _abi.CALLS[name]
        self.name = name
        self.number = number
        self.cap = cap
        self.argtags = argtags
        self.restags = restags
        self.restypes = tuple(_PY_TYPES[t] for t in restags)
        self.nres = len(restags)
        self.type0 = self.restypes[0] if restags else None
        self.encode = request_encoder(number, argtags, name)
        self.encode_parts = _parts_encoder(number) if tuple(argtags) == (_abi.TAG_I64, _abi.TAG_BYTES) else None

    def signature(self):
        return "%s(%s)" % (self.name, ", ".join(TAG_NAMES[t] for t in self.argtags))


_specs = {}


def spec(name):
    """The prepared signature of call ``name`` (``ValueError`` for an unknown name)."""
    s = _specs.get(name)
    if s is None:
        if name not in _abi.CALLS:
            raise ValueError("unknown kernel call %r (the calls are listed in ukernel._abi.CALLS)" % (name,))
        s = _specs[name] = _Spec(name)
    return s


def check_argc(s, args):
    if len(args) != len(s.argtags):
        raise TypeError("%s takes %d argument%s, got %d" % (s.signature(), len(s.argtags),
                                                            "" if len(s.argtags) == 1 else "s", len(args)))


def result(s, reply, args):
    """The call's results from its reply: ``None``, the single value, or a tuple; raises the mapped error."""
    status = reply[1]
    if status:
        raise error_for(status, s.name, args)
    values = reply[2]
    n = s.nres
    if n == 1:
        if len(values) == 1 and type(values[0]) is s.type0:
            return values[0]
    elif n == 0:
        if not values:
            return None
    elif tuple(map(type, values)) == s.restypes:
        return values
    raise ProtocolError("%s: the kernel replied %r, expected (%s)" % (
        s.name, tuple(type(v).__name__ for v in values), ", ".join(TAG_NAMES[t] for t in s.restags)), reply[0])


def kernel_log_level(level):
    """A ``log_write`` level (10, 20, 30, 40) for a Python ``logging`` level number: below DEBUG is DEBUG,
    CRITICAL (50) and above is ERROR, anything in between rounds down."""
    if level >= _abi.LOG_ERROR:
        return _abi.LOG_ERROR
    if level >= _abi.LOG_WARN:
        return _abi.LOG_WARN
    if level >= _abi.LOG_INFO:
        return _abi.LOG_INFO
    return _abi.LOG_DEBUG


def log_chunks(data, limit):
    """Splits UTF-8 ``data`` into pieces of at most ``limit`` bytes, at a newline when one is near, else never
    inside a character."""
    chunks = []
    while len(data) > limit:
        cut = data.rfind(b"\n", 0, limit + 1)
        if cut > 0:
            chunks.append(data[:cut])
            data = data[cut + 1:]
            continue
        cut = limit
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # do not split a UTF-8 sequence
            cut -= 1
        chunks.append(data[:cut])
        data = data[cut:]
    chunks.append(data)
    return chunks


_SEND_HEAD = _Struct("<IIHHBqBI")  # header, I64 tag + value, BYTES tag + length
_SEND_BASE = 8 + 9 + 5
PARTS_THRESHOLD = 8192  # below this, one concatenated frame is cheaper than two buffers


def _parts_encoder(number):
    """For a (handle, bytes) call: ``encode_parts(seq, handle, data) -> (head, data)``, the frame as two buffers
    so that large payloads are written with ``sendmsg`` without being copied into a frame first. ``data`` must be
    bytes-like, at most a frame's payload (the caller clamps)."""
    pack = _SEND_HEAD.pack

    def encode_parts(seq, handle, data):
        n = len(data)
        return pack(_SEND_BASE + n, seq, number, 2, _abi.TAG_I64, handle, _abi.TAG_BYTES, n), data

    return encode_parts
