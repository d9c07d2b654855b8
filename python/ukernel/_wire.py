"""The wire codec: request and reply frames, little-endian.

::

    request = u32 length, u32 seq, u16 call,   u16 argc,  value * argc
    reply   = u32 length, u32 seq, u16 status, u16 count, value * count
    value   = u8 tag, payload
      tag 1 I64   payload = i64
      tag 2 BYTES payload = u32 n, n bytes
      tag 3 I64S  payload = u32 n, n * i64

``length`` counts the bytes after itself, at most ``MAX_FRAME_BYTES``. In a reply, bit 15 of ``status``
(``REPLY_GRANTED``, ABI 1.1) says a host descriptor travels with it; the decoder leaves the bit in the status it
returns (the client takes the descriptor and clears it). Python values map to wire values as
``int`` -> I64, ``bytes``/``bytearray``/``memoryview``/``str`` (UTF-8) -> BYTES, ``list``/``tuple`` of ints ->
I64S; decoding gives ``int``, ``bytes`` and ``tuple`` of ints.

A decoded request is the tuple ``(seq, call, values)``, a decoded reply ``(seq, status, values)``, with
``values`` a tuple. Decoders return ``(frame, consumed)``, or ``(None, 0)`` when the buffer holds only part of a
frame, and raise :class:`ProtocolError` on malformed input. Encoders raise ``TypeError`` for a value of the
wrong type, ``OverflowError`` for an integer outside i64 and :class:`TooBigError` for a frame beyond the limits.
"""

from struct import Struct
from struct import error as _StructError

from ._abi import MAX_FRAME_BYTES, MAX_VALUES, OK, REPLY_GRANTED, STATUS_NAMES, TAG_BYTES, TAG_I64, TAG_I64S
from ._errors import ProtocolError, TooBigError

__all__ = [
    "encode_request", "encode_reply", "decode_request", "decode_reply", "request_encoder", "HEADER_BYTES",
    "TAG_NAMES",
]

_HEADER = Struct("<IIHH")  # length, seq, call or status, argc or count
_U32 = Struct("<I")
_Q = Struct("<q")
_TAG_Q = Struct("<Bq")  # an I64 value
_TAG_N = Struct("<BI")  # the head of a BYTES or I64S value
HEADER_BYTES = _HEADER.size
_BODY_HEADER = HEADER_BYTES - 4  # what `length` counts of the header
_SEQ_MASK = 0xFFFFFFFF

TAG_NAMES = {TAG_I64: "I64", TAG_BYTES: "BYTES", TAG_I64S: "I64S"}
_EXPECTED = {
    TAG_I64: "an int",
    TAG_BYTES: "bytes, bytearray, memoryview or str",
    TAG_I64S: "a list or tuple of ints",
}

_i64s_cache = {}


def _i64s(n):
    """The struct for n consecutive i64s (cached for the sizes that recur)."""
    s = _i64s_cache.get(n)
    if s is None:
        s = Struct("<%dq" % n)
        if n <= 1024:
            _i64s_cache[n] = s
    return s


# -- encoding ----------------------------------------------------------------------------------------------------

def _wrong_type(what, i, tag, v):
    return TypeError("%s: argument %d must be %s (%s), got %s"
                     % (what, i + 1, _EXPECTED[tag], TAG_NAMES[tag], type(v).__name__))


def _infer_tag(v, what, i):
    if isinstance(v, int):
        return TAG_I64
    if isinstance(v, (bytes, bytearray, memoryview, str)):
        return TAG_BYTES
    if isinstance(v, (list, tuple)):
        return TAG_I64S
    raise TypeError("%s: argument %d has no wire type: %s (use an int, bytes/str, or a list of ints)"
                    % (what, i + 1, type(v).__name__))


def _as_bytes(v, what, i):
    """The bytes-like object to put on the wire for a BYTES value."""
    if isinstance(v, (bytes, bytearray)):
        return v
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, memoryview):
        return v.cast("B") if v.c_contiguous else v.tobytes()
    raise _wrong_type(what, i, TAG_BYTES, v)


def _encode_values(parts, values, tags, what):
    """Appends the encoded values to ``parts``; returns the number of bytes added."""
    size = 0
    for i, v in enumerate(values):
        tag = _infer_tag(v, what, i) if tags is None else tags[i]
        if tag == TAG_I64:
            if not isinstance(v, int):
                raise _wrong_type(what, i, tag, v)
            try:
                parts.append(_TAG_Q.pack(TAG_I64, v))
            except _StructError:
                raise OverflowError("%s: argument %d is outside the signed 64-bit range: %d" % (what, i + 1, v))
            size += 9
        elif tag == TAG_BYTES:
            b = _as_bytes(v, what, i)
            n = len(b)
            parts.append(_TAG_N.pack(TAG_BYTES, n))
            parts.append(b)
            size += 5 + n
        elif tag == TAG_I64S:
            if not isinstance(v, (list, tuple)):
                raise _wrong_type(what, i, tag, v)
            n = len(v)
            parts.append(_TAG_N.pack(TAG_I64S, n))
            try:
                parts.append(_i64s(n).pack(*v))
            except _StructError:
                for x in v:
                    if not isinstance(x, int):
                        raise TypeError("%s: argument %d must be a list of ints (I64S), it holds a %s"
                                        % (what, i + 1, type(x).__name__))
                raise OverflowError("%s: argument %d holds an int outside the signed 64-bit range" % (what, i + 1))
            size += 5 + 8 * n
        else:
            raise ValueError("%s: unknown wire tag %r" % (what, tag))
    return size


def _encode_frame(seq, code, values, tags, what):
    n = len(values)
    if tags is not None and len(tags) != n:
        raise TypeError("%s takes %d arguments (%s), got %d"
                        % (what, len(tags), ", ".join(TAG_NAMES.get(t, "?") for t in tags), n))
    if n > MAX_VALUES:
        raise TooBigError("%s: %d values exceed the limit of %d" % (what, n, MAX_VALUES), what)
    parts = [b""]
    length = _BODY_HEADER + _encode_values(parts, values, tags, what)
    if length > MAX_FRAME_BYTES:
        raise TooBigError("%s: the frame would take %d bytes, over the limit of %d (MAX_FRAME_BYTES)"
                          % (what, length + 4, MAX_FRAME_BYTES + 4), what)
    try:
        parts[0] = _HEADER.pack(length, seq & _SEQ_MASK, code, n)
    except _StructError:
        raise ValueError("%s: call or status number %r does not fit in u16" % (what, code))
    return b"".join(parts)


def encode_request(seq, call, args=(), tags=None):
    """Encodes a request frame. ``tags`` (the call's argument tags from ``CALLS``) types the arguments strictly;
    without it the wire type follows the Python type."""
    return _encode_frame(seq, call, args, tags, "call %d" % call)


def encode_reply(seq, status, values=(), tags=None):
    """Encodes a reply frame. A reply with a status other than ``OK`` (or ``OK | REPLY_GRANTED``) carries no
    values."""
    if status & ~REPLY_GRANTED != OK and values:
        raise ValueError("a reply with status %s carries no values" % STATUS_NAMES.get(status, status))
    return _encode_frame(seq, status, values, tags, "reply")


def request_encoder(number, tags, name=None):
    """A fast encoder ``encode(seq, args) -> bytes`` for one call's signature.

    ``args`` must have as many items as ``tags`` (the caller checks the count); types are checked. The
    signatures of the hot calls get one precompiled ``struct`` each; the rest use the generic path.
    """
    tags = tuple(tags)
    what = name or "call %d" % number

    def generic(seq, args):
        return _encode_frame(seq, number, args, tags, what)

    if not tags:
        pack0 = _HEADER.pack

        def encode(seq, args):
            try:
                return pack0(_BODY_HEADER, seq, number, 0)
            except _StructError:
                return generic(seq, args)

        return encode
    if all(t == TAG_I64 for t in tags) and len(tags) <= 4:
        k = len(tags)
        pack = Struct(_HEADER.format + "Bq" * k).pack
        length = _BODY_HEADER + 9 * k
        if k == 1:
            def encode(seq, args):
                try:
                    return pack(length, seq, number, 1, TAG_I64, args[0])
                except _StructError:
                    return generic(seq, args)  # raises the precise error
        elif k == 2:
            def encode(seq, args):
                try:
                    return pack(length, seq, number, 2, TAG_I64, args[0], TAG_I64, args[1])
                except _StructError:
                    return generic(seq, args)
        else:
            def encode(seq, args):
                flat = [length, seq, number, k]
                for a in args:
                    flat.append(TAG_I64)
                    flat.append(a)
                try:
                    return pack(*flat)
                except _StructError:
                    return generic(seq, args)
        return encode
    if tags == (TAG_I64, TAG_BYTES):
        pack = Struct(_HEADER.format + "BqBI").pack
        base = _BODY_HEADER + 9 + 5
        limit = MAX_FRAME_BYTES - base

        def encode(seq, args):
            data = args[1]
            if type(data) is not bytes:
                data = _as_bytes(data, what, 1)
            n = len(data)
            if n > limit:
                return generic(seq, args)
            try:
                return pack(base + n, seq, number, 2, TAG_I64, args[0], TAG_BYTES, n) + data
            except _StructError:
                return generic(seq, args)

        return encode
    return generic


# -- decoding ----------------------------------------------------------------------------------------------------

def _decode(buf, offset, end, kind):
    if end is None:
        end = len(buf)
    avail = end - offset
    if avail < HEADER_BYTES:
        if avail < 4:
            return None, 0
        length = _U32.unpack_from(buf, offset)[0]
        if length > MAX_FRAME_BYTES or length < _BODY_HEADER:
            _bad_length(length)
        return None, 0
    length, seq, code, count = _HEADER.unpack_from(buf, offset)
    if length > MAX_FRAME_BYTES or length < _BODY_HEADER:
        _bad_length(length)
    total = length + 4
    if avail < total:
        return None, 0
    if count == 0:
        if length != _BODY_HEADER:
            raise ProtocolError("%d stray bytes after the last value" % (length - _BODY_HEADER), seq, total)
        return (seq, code, ()), total
    if count > MAX_VALUES:
        raise ProtocolError("%d values exceed the limit of %d" % (count, MAX_VALUES), seq, total)
    if kind == "reply" and code & ~REPLY_GRANTED != OK:
        raise ProtocolError("a reply with status %s carries %d values (it must carry none)"
                            % (STATUS_NAMES.get(code, code), count), seq, total)
    pos = offset + HEADER_BYTES
    if count == 1 and length == _BODY_HEADER + 9:
        tag, v = _TAG_Q.unpack_from(buf, pos)
        if tag == TAG_I64:
            return (seq, code, (v,)), total
    stop = offset + total
    values = []
    for i in range(count):
        if pos >= stop:
            raise ProtocolError("value %d of %d is missing" % (i, count), seq, total)
        tag = buf[pos]
        pos += 1
        if tag == TAG_I64:
            if stop - pos < 8:
                raise ProtocolError("value %d is truncated" % i, seq, total)
            values.append(_Q.unpack_from(buf, pos)[0])
            pos += 8
        elif tag == TAG_BYTES or tag == TAG_I64S:
            if stop - pos < 4:
                raise ProtocolError("value %d is truncated" % i, seq, total)
            n = _U32.unpack_from(buf, pos)[0]
            pos += 4
            if tag == TAG_BYTES:
                if n > stop - pos:
                    raise ProtocolError("value %d claims %d bytes" % (i, n), seq, total)
                values.append(bytes(buf[pos:pos + n]))
                pos += n
            else:
                if n * 8 > stop - pos:
                    raise ProtocolError("value %d claims %d integers" % (i, n), seq, total)
                values.append(_i64s(n).unpack_from(buf, pos))
                pos += 8 * n
        else:
            raise ProtocolError("value %d has unknown tag %d" % (i, tag), seq, total)
    if pos != stop:
        raise ProtocolError("%d stray bytes after the last value" % (stop - pos), seq, total)
    return (seq, code, tuple(values)), total


def _bad_length(length):
    if length > MAX_FRAME_BYTES:
        raise ProtocolError("frame length %d exceeds the limit of %d bytes" % (length, MAX_FRAME_BYTES))
    raise ProtocolError("frame length %d is shorter than the %d-byte header" % (length, _BODY_HEADER))


def decode_request(buf, offset=0, end=None):
    """Decodes the request at ``buf[offset:end]``: ``((seq, call, values), consumed)`` or ``(None, 0)``."""
    return _decode(buf, offset, end, "request")


def decode_reply(buf, offset=0, end=None):
    """Decodes the reply at ``buf[offset:end]``: ``((seq, status, values), consumed)`` or ``(None, 0)``.

    Status codes this adapter does not know are decoded (the client raises them as errors), but a reply with a
    status other than ``OK`` must carry no values.
    """
    return _decode(buf, offset, end, "reply")
