package io.ukernel.kernel.calls;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Call;
import io.ukernel.abi.Cap;
import io.ukernel.abi.Event;
import io.ukernel.abi.Frame;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.TestTasks;
import io.ukernel.kernel.caps.CapabilitySet;
import io.ukernel.kernel.ipc.ChannelEnd;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class IpcCallsTest {
    CallHarness k = new CallHarness();
    Task task = TestTasks.task(1, "main", CapabilitySet.of(Cap.IPC));

    @BeforeEach
    void acquire() {
        k.call(task, Call.CAP_ACQUIRE, Value.of(Cap.IPC.bit()));
    }

    long[] channel(Task t) {
        Frame.Reply r = k.call(t, Call.IPC_CHANNEL_CREATE);
        assertEquals(Status.OK, r.status());
        return new long[] {((Value.I64) r.values().get(0)).value(), ((Value.I64) r.values().get(1)).value()};
    }

    /** A handle list (Value.of(long) alone would be an I64). */
    static Value.I64s handles(long... h) {
        return new Value.I64s(h);
    }

    static Value.Bytes text(String s) {
        return Value.of(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void roundTrip_withAMovedHandle_renumberedInTheReceiver() {
        long[] c = channel(task);
        long[] other = channel(task);
        assertEquals(Status.OK, k.call(task, Call.IPC_SEND, Value.of(c[0]), text("take this"),
                handles(other[1])).status());
        assertEquals(Status.ERR_BADHANDLE, k.call(task, Call.IPC_SEND, Value.of(other[1]), text("x"),
                Value.of()).status(), "a moved handle is gone from the sender");
        Frame.Reply r = k.call(task, Call.IPC_RECV, Value.of(c[1]));
        assertEquals(text("take this"), r.values().get(0));
        long received = ((Value.I64s) r.values().get(1)).value()[0];
        // The moved end still talks to its peer.
        k.call(task, Call.IPC_SEND, Value.of(received), text("through"), Value.of());
        assertEquals(text("through"), k.call(task, Call.IPC_RECV, Value.of(other[0])).values().get(0));
    }

    @Test
    void recv_onEmpty_wouldBlock_thenClosedOncePeerGoneAndDrained() {
        long[] c = channel(task);
        assertEquals(Status.ERR_WOULDBLOCK, k.call(task, Call.IPC_RECV, Value.of(c[1])).status());
        k.call(task, Call.IPC_SEND, Value.of(c[0]), text("last"), Value.of());
        k.call(task, Call.IPC_CLOSE, Value.of(c[0]));
        assertEquals(Status.OK, k.call(task, Call.IPC_RECV, Value.of(c[1])).status());
        assertEquals(Status.ERR_CLOSED, k.call(task, Call.IPC_RECV, Value.of(c[1])).status());
        assertEquals(Status.ERR_CLOSED, k.call(task, Call.IPC_SEND, Value.of(c[1]), text("x"), Value.of()).status());
    }

    @Test
    void send_whenQueueFull_wouldBlock_andMovesNothing() {
        long[] c = channel(task);
        byte[] big = new byte[Abi.MAX_MSG_BYTES];
        int sent = 0;
        while (k.call(task, Call.IPC_SEND, Value.of(c[0]), Value.of(big), Value.of()).status() == Status.OK) {
            sent++;
        }
        assertTrue(sent >= 1, "an empty queue always takes one maximum-size message");
        long[] extra = channel(task);
        assertEquals(Status.ERR_WOULDBLOCK, k.call(task, Call.IPC_SEND, Value.of(c[0]), Value.of(big),
                handles(extra[0])).status());
        assertEquals(Status.OK, k.call(task, Call.HANDLE_CLOSE, Value.of(extra[0])).status(), "not moved");
    }

    @Test
    void limits_tooBigPayload_tooManyHandles_selfSend_duplicates() {
        long[] c = channel(task);
        assertEquals(Status.ERR_TOOBIG, k.call(task, Call.IPC_SEND, Value.of(c[0]),
                Value.of(new byte[Abi.MAX_MSG_BYTES + 1]), Value.of()).status());
        assertEquals(Status.ERR_TOOBIG, k.call(task, Call.IPC_SEND, Value.of(c[0]), text(""),
                Value.of(new long[Abi.MAX_MSG_HANDLES + 1])).status());
        assertEquals(Status.ERR_INVAL, k.call(task, Call.IPC_SEND, Value.of(c[0]), text(""),
                handles(c[0])).status());
        assertEquals(Status.ERR_BADHANDLE, k.call(task, Call.IPC_SEND, Value.of(c[0]), text(""),
                Value.of(c[1], c[1])).status());
    }

    @Test
    void signals_followTheQueueAndThePeer() {
        long[] c = channel(task);
        assertEquals(List.of(Value.of(c[0], Event.WRITABLE.bit())), poll(task, c[0], 3).values());
        k.call(task, Call.IPC_SEND, Value.of(c[0]), text("x"), Value.of());
        assertEquals(List.of(Value.of(c[1], Event.READABLE.bit() | Event.WRITABLE.bit())),
                poll(task, c[1], 3).values());
        k.call(task, Call.IPC_CLOSE, Value.of(c[0]));
        assertEquals(List.of(Value.of(c[1], Event.READABLE.bit() | Event.HANGUP.bit())),
                poll(task, c[1], 3).values());
    }

    @Test
    void handleNumbers_meanNothingInAnotherTask() {
        long[] c = channel(task);
        Task other = TestTasks.task(2, "other", CapabilitySet.of(Cap.IPC));
        k.call(other, Call.CAP_ACQUIRE, Value.of(Cap.IPC.bit()));
        assertEquals(Status.ERR_BADHANDLE, k.call(other, Call.IPC_RECV, Value.of(c[1])).status());
    }

    @Test
    void create_withoutRoomForTwoHandles_isLimit() {
        Status last;
        int made = 0;
        while ((last = k.call(task, Call.IPC_CHANNEL_CREATE).status()) == Status.OK) {
            made++;
        }
        assertEquals(Status.ERR_LIMIT, last);
        assertEquals(8, made, "16 handles hold 8 channels");
    }

    @Test
    void taskExit_closesItsHandles_andThePeerSeesHangup() {
        long[] c = channel(task);
        k.tasks.declared.add(new io.ukernel.kernel.policy.Policy.TaskSpec("child", "src/child.py", Cap.IPC.bit(), false,
                io.ukernel.kernel.policy.Policy.RestartPolicy.never()));
        Frame.Reply spawned = k.call(task, Call.TASK_SPAWN, text("child"), Value.of(0), handles(c[1]));
        assertEquals(Status.ERR_DENIED, spawned.status(), "TASK is not active");
        task = TestTasks.task(1, "main", CapabilitySet.of(Cap.IPC, Cap.TASK));
        k.call(task, Call.CAP_ACQUIRE, Value.of(Cap.IPC.bit() | Cap.TASK.bit()));
        c = channel(task);
        spawned = k.call(task, Call.TASK_SPAWN, text("child"), Value.of(Cap.IPC.bit()), handles(c[1]));
        assertEquals(Status.OK, spawned.status());
        Task child = k.tasks.spawned.get(0);
        assertEquals(1, child.handles().size(), "the moved end is the child's handle 1");
        TestTasks.exit(child, 0);
        assertEquals(List.of(Value.of(c[0], Event.HANGUP.bit())), poll(task, c[0], 0).values());
    }

    @Test
    void send_movedHandlesKeepCounting_untilReceived_soQueuesDoNotEscapeLimitsHandles() {
        long[] c = channel(task);
        int parked = 0;
        Frame.Reply r;
        // Create a channel, move both its ends into c's queue, repeat: without accounting this never ends.
        while ((r = k.call(task, Call.IPC_CHANNEL_CREATE)).status() == Status.OK && parked < 1000) {
            assertEquals(Status.OK, k.call(task, Call.IPC_SEND, Value.of(c[0]), text(""),
                    handles(((Value.I64) r.values().get(0)).value(), ((Value.I64) r.values().get(1)).value()))
                    .status());
            parked++;
        }
        assertEquals(Status.ERR_LIMIT, r.status());
        assertEquals(7, parked, "16 handles: c's two ends and 14 in flight");
        assertEquals(14, task.handles().account().handles());
        assertTrue(k.console().contains("2 open + 14 sent in messages not yet received, of limits.handles=16"),
                k.console());
        // Receiving moves the charge from in flight to the table: the total stays, and nothing is lost.
        Frame.Reply got = k.call(task, Call.IPC_RECV, Value.of(c[1]));
        assertEquals(Status.OK, got.status(), "a task receiving its own message has the room its handles held");
        assertEquals(12, task.handles().account().handles());
        assertEquals(4, task.handles().size());
    }

    @Test
    void nestedEnds_countOnce_andClosingTheOuterEndReleasesEveryLevel() {
        long[] outer = channel(task);
        long[] inner = channel(task);
        long[] payload = channel(task);
        // payload's two ends into inner's queue, then inner's receiving end into outer's queue.
        k.call(task, Call.IPC_SEND, Value.of(inner[0]), text("deep"), handles(payload[0], payload[1]));
        k.call(task, Call.IPC_SEND, Value.of(outer[0]), text("end"), handles(inner[1]));
        assertEquals(3, task.handles().account().handles());
        assertEquals(3, task.handles().size(), "outer's two ends and inner[0]");
        assertEquals(ChannelEnd.cost(4) + ChannelEnd.cost(3), task.handles().account().bytes(),
                "both messages charged to their sender");
        k.call(task, Call.IPC_CLOSE, Value.of(outer[1]));
        assertEquals(0, task.handles().account().handles(), "dropping the outer queue drops the inner one too");
        assertEquals(0, task.handles().account().bytes());
        assertEquals(14, task.handles().room());
    }

    @Test
    void send_beyondQueuedBytes_isLimit_evenAfterTheReceivingEndMoved() {
        Task t = TestTasks.task(3, "bytes", CapabilitySet.of(Cap.IPC), 16, 256 << 10);
        k.call(t, Call.CAP_ACQUIRE, Value.of(Cap.IPC.bit()));
        long[] c = channel(t);
        long[] d = channel(t);
        byte[] big = new byte[Abi.MAX_MSG_BYTES];
        for (int i = 0; i < 3; i++) {
            assertEquals(Status.OK, k.call(t, Call.IPC_SEND, Value.of(c[0]), Value.of(big), Value.of()).status());
        }
        // Park the receiving end (and the 192 KiB behind it) in d's queue: the bytes stay charged to the sender.
        assertEquals(Status.OK, k.call(t, Call.IPC_SEND, Value.of(d[0]), text(""), handles(c[1])).status());
        long[] e = channel(t);
        Frame.Reply refused = k.call(t, Call.IPC_SEND, Value.of(e[0]), Value.of(big), Value.of());
        assertEquals(Status.ERR_LIMIT, refused.status());
        assertTrue(k.console().contains("exceed limits.queued_bytes=262144"), k.console());
        // Receiving releases: the moved end comes back, one message is taken, and there is room again.
        long back = ((Value.I64s) k.call(t, Call.IPC_RECV, Value.of(d[1])).values().get(1)).value()[0];
        assertEquals(Status.OK, k.call(t, Call.IPC_RECV, Value.of(back)).status());
        assertEquals(Status.OK, k.call(t, Call.IPC_SEND, Value.of(e[0]), Value.of(big), Value.of()).status());
    }

    Frame.Reply poll(Task t, long h, int interest) {
        return k.call(t, Call.IO_POLL, Value.of(h, interest), Value.of(0));
    }

    /** Whatever sequence of sends and receives, bytes come out in order and the byte count never goes negative. */
    @Property
    void messages_arriveInOrder(@ForAll @Size(max = 40) List<@IntRange(min = -1, max = 300) Integer> ops) {
        CallHarness h = new CallHarness();
        Task t = TestTasks.task(1, "p", CapabilitySet.of(Cap.IPC));
        h.call(t, Call.CAP_ACQUIRE, Value.of(Cap.IPC.bit()));
        Frame.Reply r = h.call(t, Call.IPC_CHANNEL_CREATE);
        long a = ((Value.I64) r.values().get(0)).value();
        long b = ((Value.I64) r.values().get(1)).value();
        List<byte[]> inFlight = new ArrayList<>();
        for (int op : ops) {
            if (op < 0) {
                Frame.Reply got = h.call(t, Call.IPC_RECV, Value.of(b));
                if (inFlight.isEmpty()) {
                    assertEquals(Status.ERR_WOULDBLOCK, got.status());
                } else {
                    assertArrayEquals(inFlight.remove(0), ((Value.Bytes) got.values().get(0)).value());
                }
            } else {
                byte[] msg = new byte[op];
                if (op > 0) {
                    msg[0] = (byte) inFlight.size();
                }
                if (h.call(t, Call.IPC_SEND, Value.of(a), Value.of(msg), Value.of()).status() == Status.OK) {
                    inFlight.add(msg);
                }
            }
        }
    }
    // -- 1.2: ipc_send_many / ipc_recv_many -----------------------------------------------------------------------

    static Frame.Reply sendMany(CallHarness h, Task t, long ch, List<byte[]> msgs, long[] counts, long... moved) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        long[] lengths = new long[msgs.size()];
        for (int i = 0; i < lengths.length; i++) {
            out.writeBytes(msgs.get(i));
            lengths[i] = msgs.get(i).length;
        }
        return h.call(t, Call.IPC_SEND_MANY, Value.of(ch), Value.of(out.toByteArray()), handles(lengths),
                handles(counts), handles(moved));
    }

    /** The messages of an ipc_recv_many reply, split. */
    static List<byte[]> split(Frame.Reply r) {
        assertEquals(Status.OK, r.status(), r.toString());
        byte[] data = ((Value.Bytes) r.values().get(0)).value();
        long[] lengths = ((Value.I64s) r.values().get(1)).value();
        List<byte[]> out = new ArrayList<>();
        int at = 0;
        for (long n : lengths) {
            out.add(java.util.Arrays.copyOfRange(data, at, at + (int) n));
            at += (int) n;
        }
        assertEquals(data.length, at);
        return out;
    }

    static long taken(Frame.Reply r) {
        assertEquals(Status.OK, r.status(), r.toString());
        return ((Value.I64) r.values().get(0)).value();
    }

    @Test
    void sendMany_recvMany_inOrder_withHandlesMovedByTheMessagesThatCarryThem() {
        long[] c = channel(task);
        long[] other = channel(task);
        long[] third = channel(task);
        List<byte[]> msgs = List.of("a".getBytes(), new byte[0], "carries two".getBytes(), "d".getBytes());
        assertEquals(4, taken(sendMany(k, task, c[0], msgs, new long[] {0, 0, 2, 0}, other[1], third[1])));
        assertEquals(Status.ERR_BADHANDLE, k.call(task, Call.HANDLE_CLOSE, Value.of(other[1])).status(),
                "moved handles left the sender's table");
        Frame.Reply r = k.call(task, Call.IPC_RECV_MANY, Value.of(c[1]), Value.of(10), Value.of(1 << 20));
        List<byte[]> got = split(r);
        assertEquals(4, got.size());
        for (int i = 0; i < 4; i++) {
            assertArrayEquals(msgs.get(i), got.get(i));
        }
        assertArrayEquals(new long[] {0, 0, 2, 0}, ((Value.I64s) r.values().get(2)).value());
        long[] moved = ((Value.I64s) r.values().get(3)).value();
        assertEquals(2, moved.length);
        k.call(task, Call.IPC_SEND, Value.of(moved[0]), text("via moved"), Value.of());
        assertEquals(text("via moved"), k.call(task, Call.IPC_RECV, Value.of(other[0])).values().get(0));
        assertEquals(Status.ERR_WOULDBLOCK,
                k.call(task, Call.IPC_RECV_MANY, Value.of(c[1]), Value.of(10), Value.of(0)).status());
    }

    @Test
    void recvMany_respectsCountAndByteBudget_butAlwaysTakesOneWhole() {
        long[] c = channel(task);
        List<byte[]> msgs = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            msgs.add(new byte[] {(byte) i, 1, 2, 3});
        }
        assertEquals(10, taken(sendMany(k, task, c[0], msgs, new long[0])));
        assertEquals(3, split(k.call(task, Call.IPC_RECV_MANY, Value.of(c[1]), Value.of(3), Value.of(1 << 20))).size());
        assertEquals(1, split(k.call(task, Call.IPC_RECV_MANY, Value.of(c[1]), Value.of(9), Value.of(0))).size());
        List<byte[]> rest = split(k.call(task, Call.IPC_RECV_MANY, Value.of(c[1]), Value.of(9), Value.of(9)));
        assertEquals(2, rest.size(), "8 of the 9 budget bytes taken by two messages; a third would exceed it");
        assertEquals(4, rest.get(0)[0]);
        assertEquals(Status.ERR_INVAL,
                k.call(task, Call.IPC_RECV_MANY, Value.of(c[1]), Value.of(0), Value.of(9)).status());
    }

    @Test
    void sendMany_malformedOrBadHandle_queuesNothing() {
        long[] c = channel(task);
        long[] other = channel(task);
        List<byte[]> two = List.of("x".getBytes(), "y".getBytes());
        Frame.Reply bad = k.call(task, Call.IPC_SEND_MANY, Value.of(c[0]), text("xyz"), handles(1, 1),
                handles(), handles());
        assertEquals(Status.ERR_INVAL, bad.status(), "lengths must add up to the bytes");
        assertEquals(Status.ERR_BADHANDLE, sendMany(k, task, c[0], two, new long[] {0, 2}, other[1], 12345).status());
        assertEquals(Status.ERR_INVAL, sendMany(k, task, c[0], two, new long[] {1}, other[1]).status());
        assertEquals(Status.ERR_INVAL, sendMany(k, task, c[0], two, new long[] {1, 0}, c[0]).status());
        assertEquals(Status.ERR_INVAL, sendMany(k, task, c[0], List.of(), new long[0]).status());
        assertEquals(Status.ERR_TOOBIG, sendMany(k, task, c[0], java.util.Collections.nCopies(
                Abi.MAX_BATCH_MSGS + 1, new byte[0]), new long[0]).status());
        assertEquals(Status.ERR_WOULDBLOCK,
                k.call(task, Call.IPC_RECV_MANY, Value.of(c[1]), Value.of(10), Value.of(100)).status());
        assertEquals(Status.OK, k.call(task, Call.HANDLE_CLOSE, Value.of(other[1])).status(), "not moved");
    }

    /** A sender flooding a stalled receiver: the kernel never holds more than the channel's bound toward it. */
    @Test
    void sendMany_flood_kernelHoldsAtMostTheBound_andTheRestIsRefusedNotDropped() {
        long[] c = channel(task);
        ChannelEnd rx = task.handles().get(c[1], ChannelEnd.class).orElseThrow();
        long limit = k.manifest.limits().channelBytes();
        List<byte[]> batch = java.util.Collections.nCopies(Abi.MAX_BATCH_MSGS, new byte[1000]);
        long accepted = 0;
        for (int round = 0; round < 50; round++) {
            Frame.Reply r = sendMany(k, task, c[0], batch, new long[0]);
            if (r.status() == Status.ERR_WOULDBLOCK) {
                continue;
            }
            accepted += taken(r);
            assertTrue(rx.queuedBytes() <= limit, rx.queuedBytes() + " > " + limit);
        }
        assertEquals(accepted * ChannelEnd.cost(1000), rx.queuedBytes(), "what was accepted is what is held");
        assertTrue(accepted < 50L * Abi.MAX_BATCH_MSGS, "back-pressure refused most of the flood");
        assertEquals(Status.ERR_WOULDBLOCK, sendMany(k, task, c[0], batch, new long[0]).status());
        long drained = 0;
        while (true) {
            Frame.Reply r = k.call(task, Call.IPC_RECV_MANY, Value.of(c[1]), Value.of(4096), Value.of(1 << 30));
            if (r.status() != Status.OK) {
                break;
            }
            drained += ((Value.I64s) r.values().get(1)).value().length;
        }
        assertEquals(accepted, drained, "every accepted message is delivered");
    }

    @Test
    void sendMany_toClosedPeer_isClosed_andRecvManyDrainsThenClosed() {
        long[] c = channel(task);
        assertEquals(2, taken(sendMany(k, task, c[0], List.of("1".getBytes(), "2".getBytes()), new long[0])));
        k.call(task, Call.IPC_CLOSE, Value.of(c[0]));
        assertEquals(2, split(k.call(task, Call.IPC_RECV_MANY, Value.of(c[1]), Value.of(10), Value.of(99))).size());
        assertEquals(Status.ERR_CLOSED,
                k.call(task, Call.IPC_RECV_MANY, Value.of(c[1]), Value.of(10), Value.of(99)).status());
        assertEquals(Status.ERR_CLOSED, sendMany(k, task, c[1], List.of("x".getBytes()), new long[0]).status());
    }

    /** Random bursts of random sizes through send_many, drained by recv_many with random budgets: in order, none lost. */
    @Property(tries = 200)
    void sendMany_recvMany_inOrderNoLoss(@ForAll @Size(max = 30) List<@IntRange(min = -2000, max = 60) Integer> ops,
            @ForAll @IntRange(min = 0, max = 70000) int size) {
        CallHarness h = new CallHarness();
        Task t = TestTasks.task(1, "p", CapabilitySet.of(Cap.IPC));
        h.call(t, Call.CAP_ACQUIRE, Value.of(Cap.IPC.bit()));
        Frame.Reply r = h.call(t, Call.IPC_CHANNEL_CREATE);
        long a = ((Value.I64) r.values().get(0)).value();
        long b = ((Value.I64) r.values().get(1)).value();
        java.util.ArrayDeque<byte[]> inFlight = new java.util.ArrayDeque<>();
        java.util.Random rnd = new java.util.Random(size);
        int next = 0;
        for (int op : ops) {
            if (op <= 0) {
                Frame.Reply got = h.call(t, Call.IPC_RECV_MANY, Value.of(b), Value.of(1 + rnd.nextInt(50)),
                        Value.of(-op * 50L));
                if (inFlight.isEmpty()) {
                    assertEquals(Status.ERR_WOULDBLOCK, got.status());
                } else {
                    for (byte[] m : split(got)) {
                        assertArrayEquals(inFlight.poll(), m);
                    }
                }
            } else {
                List<byte[]> burst = new ArrayList<>();
                for (int i = 0; i < op; i++) {
                    byte[] m = new byte[rnd.nextInt(1 + rnd.nextInt(Math.min(size, Abi.MAX_MSG_BYTES) + 1))];
                    if (m.length >= 4) {
                        java.nio.ByteBuffer.wrap(m).putInt(next);
                    }
                    next++;
                    burst.add(m);
                }
                Frame.Reply sent = sendMany(h, t, a, burst, new long[0]);
                if (sent.status() == Status.OK) {
                    inFlight.addAll(burst.subList(0, (int) taken(sent)));
                } else {
                    assertEquals(Status.ERR_WOULDBLOCK, sent.status());
                }
            }
        }
        while (!inFlight.isEmpty()) {
            for (byte[] m : split(h.call(t, Call.IPC_RECV_MANY, Value.of(b), Value.of(1024), Value.of(1 << 20)))) {
                assertArrayEquals(inFlight.poll(), m);
            }
        }
    }
}
