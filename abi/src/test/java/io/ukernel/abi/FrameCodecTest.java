package io.ukernel.abi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class FrameCodecTest {

    @Provide
    Arbitrary<Value> values() {
        return Arbitraries.oneOf(
                Arbitraries.longs().map(Value::of),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(300).map(Value::of),
                Arbitraries.longs().array(long[].class).ofMaxSize(40).map(Value::of));
    }

    @Provide
    Arbitrary<Frame.Request> requests() {
        return values().list().ofMaxSize(Abi.MAX_VALUES).flatMap(vs -> Arbitraries.integers()
                .flatMap(seq -> Arbitraries.integers().between(0, 0xffff)
                        .map(call -> new Frame.Request(seq, call, vs))));
    }

    @Provide
    Arbitrary<Frame.Reply> replies() {
        return values().list().ofMaxSize(8).flatMap(vs -> Arbitraries.integers()
                .flatMap(seq -> Arbitraries.of(Status.class).map(st -> new Frame.Reply(seq, st, vs))));
    }

    @Property
    void decode_ofEncodedRequest_isTheRequest(@ForAll("requests") Frame.Request request) {
        byte[] wire = FrameCodec.encode(request);
        Decoded<Frame.Request> d = FrameCodec.decodeRequest(ByteBuffer.wrap(wire));
        assertEquals(new Decoded.Whole<>(request, wire.length), d);
    }

    @Property
    void decode_ofEncodedReply_isTheReply(@ForAll("replies") Frame.Reply reply) {
        byte[] wire = FrameCodec.encode(reply);
        assertEquals(new Decoded.Whole<>(reply, wire.length), FrameCodec.decodeReply(ByteBuffer.wrap(wire)));
    }

    @Property
    void decode_ofAnyBytes_isFrameNeedMoreOrMalformed_neverThrows(@ForAll @Size(max = 200) byte[] junk) {
        Decoded<Frame.Request> d = FrameCodec.decodeRequest(ByteBuffer.wrap(junk));
        if (d instanceof Decoded.Whole<Frame.Request> w) {
            assertTrue(w.consumed() <= junk.length);
        }
        FrameCodec.decodeReply(ByteBuffer.wrap(junk));
    }

    @Property
    void decode_ofMutatedFrame_neverThrows(
            @ForAll("requests") Frame.Request request, @ForAll int position, @ForAll byte replacement) {
        byte[] wire = FrameCodec.encode(request);
        wire[Math.floorMod(position, wire.length)] = replacement;
        Decoded<Frame.Request> d = FrameCodec.decodeRequest(ByteBuffer.wrap(wire));
        if (d instanceof Decoded.Malformed<Frame.Request> m) {
            assertTrue(m.consumed() >= 0 && m.consumed() <= wire.length || m.consumed() > wire.length);
        }
    }

    @Property
    void decode_ofAnyPrefix_needsMore(@ForAll("requests") Frame.Request request, @ForAll int cut) {
        byte[] wire = FrameCodec.encode(request);
        int n = Math.floorMod(cut, wire.length);
        assertInstanceOf(Decoded.NeedMore.class, FrameCodec.decodeRequest(ByteBuffer.wrap(wire, 0, n)));
    }

    @Provide
    Arbitrary<List<Frame.Request>> batches() {
        return requests().list().ofMaxSize(10);
    }

    @Property
    void decode_ofBatch_yieldsEveryFrameInOrder(@ForAll("batches") List<Frame.Request> batch) {
        ByteBuffer buf = ByteBuffer.allocate(batch.stream().mapToInt(FrameCodec::size).sum());
        batch.forEach(r -> FrameCodec.encode(r, buf));
        buf.flip();
        List<Frame.Request> out = new ArrayList<>();
        while (FrameCodec.decodeRequest(buf) instanceof Decoded.Whole<Frame.Request> w) {
            out.add(w.frame());
            buf.position(buf.position() + w.consumed());
        }
        assertEquals(batch, out);
        assertFalse(buf.hasRemaining());
    }

    @Test
    void decode_lengthAboveLimit_isUnrecoverableBeforeAnyBodyArrives() {
        ByteBuffer buf = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(Abi.MAX_FRAME_BYTES + 1).flip();
        var m = assertInstanceOf(Decoded.Malformed.class, FrameCodec.decodeRequest(buf));
        assertFalse(m.recoverable());
        assertTrue(m.reason().contains("exceeds the limit"), m.reason());
    }

    @Test
    void decode_unknownTag_isRecoverableAndKeepsTheSeq() {
        ByteBuffer buf = ByteBuffer.allocate(13).order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(9).putInt(42).putShort((short) 1).putShort((short) 1).put((byte) 9).flip();
        var m = assertInstanceOf(Decoded.Malformed.class, FrameCodec.decodeRequest(buf));
        assertTrue(m.recoverable());
        assertEquals(42, m.seq());
        assertEquals(13, m.consumed());
    }

    @Test
    void decode_strayBytesAfterValues_isMalformed() {
        ByteBuffer buf = ByteBuffer.allocate(14).order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(10).putInt(1).putShort((short) 1).putShort((short) 0).putShort((short) 0).flip();
        var m = assertInstanceOf(Decoded.Malformed.class, FrameCodec.decodeRequest(buf));
        assertTrue(m.reason().contains("stray"), m.reason());
    }

    @Test
    void decode_bytesLengthBeyondFrame_isMalformedNotAllocated() {
        ByteBuffer buf = ByteBuffer.allocate(17).order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(13).putInt(3).putShort((short) 16).putShort((short) 1).put((byte) 2).putInt(Integer.MAX_VALUE).flip();
        var m = assertInstanceOf(Decoded.Malformed.class, FrameCodec.decodeRequest(buf));
        assertEquals(3, m.seq());
    }

    @Test
    void checkSignature_reportsCountAndTypeMismatches() {
        assertEquals(null, FrameCodec.checkSignature(Call.LOG_WRITE.args(), List.of(Value.of(20), Value.of("x"))));
        assertTrue(FrameCodec.checkSignature(Call.LOG_WRITE.args(), List.of(Value.of(20))).contains("expected 2"));
        assertTrue(FrameCodec.checkSignature(Call.LOG_WRITE.args(), List.of(Value.of("x"), Value.of("x")))
                .contains("value 0 must be I64"));
    }
}
