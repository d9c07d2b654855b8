import json
import os
import struct

import pytest

from ukernel import _abi
from ukernel._errors import ProtocolError, TooBigError
from ukernel._wire import (
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
    request_encoder,
)

GOLDEN = os.path.join(os.path.dirname(__file__), "golden_frames.json")
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1
LOG_WRITE = _abi.CALLS["log_write"][0]


def frame(seq, code, body=b"", count=0, length=None):
    """A frame assembled by hand from the layout, for malformed-input tests."""
    if length is None:
        length = 8 + len(body)
    return struct.pack("<IIHH", length, seq, code, count) + body


# -- round trips -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, expected", [
    ((), ()),
    ((0,), (0,)),
    ((-1, I64_MIN, I64_MAX), (-1, I64_MIN, I64_MAX)),
    ((b"",), (b"",)),
    ((b"abc", bytearray(b"\x00\xff"), memoryview(b"mv")), (b"abc", b"\x00\xff", b"mv")),
    (("h\u00e9llo",), ("h\u00e9llo".encode(),)),
    (([],), ((),)),
    (([1, -2, I64_MAX], (I64_MIN,)), ((1, -2, I64_MAX), (I64_MIN,))),
    ((7, b"x", [1, 2]), (7, b"x", (1, 2))),
])
def test_round_trip(values, expected):
    req, used = decode_request(encode_request(5, LOG_WRITE, values))
    assert req == (5, LOG_WRITE, expected)
    data = encode_reply(9, _abi.OK, values)
    assert used == len(encode_request(5, LOG_WRITE, values))
    assert decode_reply(data) == ((9, _abi.OK, expected), len(data))


def test_decoded_types():
    (_, _, values), _ = decode_reply(encode_reply(1, _abi.OK, (1, b"b", [2])))
    assert [type(v) for v in values] == [int, bytes, tuple]


def test_decode_from_bytearray_and_memoryview_with_offset():
    data = b"junk" + encode_reply(3, _abi.OK, (b"payload", 4))
    for buf in (bytearray(data), memoryview(data)):
        assert decode_reply(buf, 4) == ((3, _abi.OK, (b"payload", 4)), len(data) - 4)


def test_error_reply_has_no_values():
    data = encode_reply(4, _abi.ERR_DENIED)
    assert data.hex() == "080000000400000002000000"
    assert decode_reply(data) == ((4, _abi.ERR_DENIED, ()), 12)
    with pytest.raises(ValueError):
        encode_reply(4, _abi.ERR_DENIED, (1,))


def test_unknown_status_decodes():
    # Clients must treat codes they do not know as errors, so the codec passes them on.
    assert decode_reply(frame(1, 999))[0] == (1, 999, ())


def test_seq_wraps_to_u32():
    assert decode_request(encode_request(-1, 1))[0][0] == 0xFFFFFFFF
    assert decode_request(encode_request(1 << 32, 1))[0][0] == 0


# -- typed encoding ----------------------------------------------------------------------------------------------

def test_tags_type_the_arguments():
    tags = _abi.CALLS["log_write"][2]
    assert encode_request(1, 16, (20, "x"), tags) == encode_request(1, 16, (20, b"x"))
    with pytest.raises(TypeError, match="argument 2 must be bytes"):
        encode_request(1, 16, (20, 5), tags)
    with pytest.raises(TypeError, match="argument 1 must be an int"):
        encode_request(1, 16, ("20", b"x"), tags)
    with pytest.raises(TypeError, match="takes 2 arguments"):
        encode_request(1, 16, (20,), tags)


def test_untypable_and_out_of_range_values():
    with pytest.raises(TypeError):
        encode_request(1, 1, (1.5,))
    with pytest.raises(TypeError):
        encode_request(1, 1, ([1, "x"],))
    with pytest.raises(OverflowError):
        encode_request(1, 1, (I64_MAX + 1,))
    with pytest.raises(OverflowError):
        encode_request(1, 1, ([I64_MIN - 1],))


def test_limits_are_enforced_when_encoding():
    with pytest.raises(TooBigError):
        encode_request(1, 16, (20, b"x" * _abi.MAX_FRAME_BYTES))
    with pytest.raises(TooBigError):
        encode_request(1, 1, (0,) * (_abi.MAX_VALUES + 1))
    biggest = b"x" * (_abi.MAX_FRAME_BYTES - 8 - 9 - 5)
    data = encode_request(1, 16, (20, biggest))
    assert len(data) == _abi.MAX_FRAME_BYTES + 4
    assert decode_request(data)[0][2][1] == biggest


SAMPLES = {_abi.TAG_I64: [0, -5, I64_MAX], _abi.TAG_BYTES: [b"", b"abc", "\u00e9", bytearray(b"z")],
           _abi.TAG_I64S: [[], [1, -1], (3,)]}


@pytest.mark.parametrize("name", sorted(_abi.CALLS))
def test_fast_encoders_match_the_generic_encoder(name):
    number, _, tags, _, _ = _abi.CALLS[name]
    encode = request_encoder(number, tags, name)
    for k in range(3):
        args = tuple(SAMPLES[t][(k + i) % len(SAMPLES[t])] for i, t in enumerate(tags))
        assert encode(1234, args) == encode_request(1234, number, args, tags)


def test_fast_encoders_check_types():
    encode = request_encoder(16, (_abi.TAG_I64, _abi.TAG_BYTES), "log_write")
    with pytest.raises(TypeError, match="log_write: argument 2"):
        encode(1, (20, 3))
    with pytest.raises(TypeError, match="log_write: argument 1"):
        encode(1, (None, b"x"))
    with pytest.raises(TypeError, match="cap_acquire: argument 1"):
        request_encoder(2, (_abi.TAG_I64,), "cap_acquire")(1, ("LOG",))


# -- batching and partial buffers --------------------------------------------------------------------------------

def test_several_frames_in_one_buffer():
    frames = [encode_reply(i, _abi.OK, (i, b"v" * i)) for i in range(1, 4)]
    buf = b"".join(frames)
    offset, seen = 0, []
    while offset < len(buf):
        reply, used = decode_reply(buf, offset)
        seen.append(reply[0])
        offset += used
    assert seen == [1, 2, 3] and offset == len(buf)
    assert decode_reply(buf, offset) == (None, 0)


def test_partial_buffers_need_more():
    data = encode_request(7, 112, ([4, 1, 5, 3], -1))
    for n in range(len(data)):
        assert decode_request(data[:n]) == (None, 0)
        assert decode_request(data, 0, n) == (None, 0)
    assert decode_request(data + b"\x08")[1] == len(data)


# -- malformed input ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, reason", [
    (frame(1, 0, b"\x09" + bytes(8), 1), "unknown tag 9"),
    (frame(1, 0, b"\x01" + bytes(4), 1), "truncated"),
    (frame(1, 0, b"\x02\x05\x00\x00\x00ab", 1), "claims 5 bytes"),
    (frame(1, 0, b"\x03\x02\x00\x00\x00" + bytes(8), 1), "claims 2 integers"),
    (frame(1, 0, b"\x02\x00", 1), "truncated"),
    (frame(1, 0, b"\x01" + bytes(8), 2), "value 1 of 2 is missing"),
    (frame(1, 0, b"\x01" + bytes(8) + b"zz", 1), "2 stray bytes"),
    (frame(1, 0, b"zz", 0), "2 stray bytes"),
    (frame(1, 0, b"", _abi.MAX_VALUES + 1), "exceed the limit"),
])
def test_malformed_frames(data, reason):
    for decode in (decode_request, decode_reply):
        with pytest.raises(ProtocolError, match=reason) as e:
            decode(data)
        assert e.value.seq == 1 and e.value.consumed == len(data)  # the boundary is known


@pytest.mark.parametrize("length, reason", [(_abi.MAX_FRAME_BYTES + 1, "exceeds the limit"), (7, "shorter")])
def test_bad_lengths_fail_at_once(length, reason):
    head = struct.pack("<I", length)
    for data in (head, head + bytes(8)):  # before the rest of the frame arrives
        with pytest.raises(ProtocolError, match=reason) as e:
            decode_request(data)
        assert e.value.consumed == 0  # the stream cannot be resynchronised


def test_error_reply_with_values_is_malformed():
    with pytest.raises(ProtocolError, match="carries 1 values"):
        decode_reply(frame(1, _abi.ERR_DENIED, b"\x01" + bytes(8), 1))


# -- golden vectors (shared with the Java codec) -----------------------------------------------------------------

def _golden():
    with open(GOLDEN) as f:
        return json.load(f)


def _value(v):
    if "i64" in v:
        return v["i64"]
    if "bytes_hex" in v:
        return bytes.fromhex(v["bytes_hex"])
    return list(v["i64s"])


def _plain(values):
    return [list(v) if isinstance(v, tuple) else v for v in values]


def test_golden_file_is_present():
    assert _golden(), "python/tests/golden_frames.json holds no vectors"


@pytest.mark.parametrize("vector", _golden(), ids=lambda v: "%s-%s" % (v["kind"], v["hex"][:24]))
def test_golden_vector(vector):
    values = [_value(v) for v in vector["values"]]
    data = bytes.fromhex(vector["hex"])
    if vector["kind"] == "request":
        assert encode_request(vector["seq"], vector["call"], values).hex() == vector["hex"]
        (seq, code, decoded), used = decode_request(data)
        assert code == vector["call"]
    else:
        assert encode_reply(vector["seq"], vector["status"], values).hex() == vector["hex"]
        (seq, code, decoded), used = decode_reply(data)
        assert code == vector["status"]
    assert seq == vector["seq"] & 0xFFFFFFFF
    assert used == len(data)
    assert _plain(decoded) == values
