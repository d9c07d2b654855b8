package io.ukernel.kernel.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.ArgType;
import io.ukernel.abi.Call;
import io.ukernel.abi.Cap;
import io.ukernel.abi.Frame;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.TestTasks;
import io.ukernel.kernel.caps.CapabilitySet;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class DispatcherTest {
    final CallHarness k = new CallHarness();
    final Task task = TestTasks.task(1, "main", new CapabilitySet(Cap.ALL_MASK));

    @Test
    void unknownCallNumber_isInval() {
        Frame.Reply r = k.dispatcher.dispatch(task, new Frame.Request(5, 0x7f, List.of()));
        assertEquals(Frame.Reply.error(5, Status.ERR_INVAL), r);
    }

    @Test
    void wrongArgumentTypes_areInval() {
        assertEquals(Status.ERR_INVAL, k.call(task, Call.CAP_ACQUIRE, Value.of("LOG")).status());
        assertEquals(Status.ERR_INVAL, k.call(task, Call.CAP_ACQUIRE).status());
    }

    @Test
    void callWithoutActiveCapability_isDenied_andTheConsoleSaysWhichCap() {
        assertEquals(Status.ERR_DENIED, k.call(task, Call.LOG_WRITE, Value.of(20), Value.of("hi")).status());
        assertTrue(k.console().contains("log_write: denied: needs LOG"), k.console());
    }

    @Test
    void formerlyReservedUdpCalls_areServed_fromAbi12() {
        k.call(task, Call.CAP_ACQUIRE, Value.of(Cap.NET.bit()));
        assertEquals(Status.ERR_BADHANDLE, k.call(task, Call.NET_SENDTO, Value.of(1), Value.of("x"),
                Value.of("h"), Value.of(1)).status());
        assertEquals(Status.ERR_BADHANDLE, k.call(task, Call.NET_RECVFROM, Value.of(1), Value.of(1)).status());
    }

    @Test
    void helloAfterAttach_isInval() {
        assertEquals(Status.ERR_INVAL, k.call(task, Call.HELLO, Value.of(new byte[16]), Value.of(1)).status());
    }

    @Test
    void badHandle_isAnAuditLine_atWarn() {
        k.call(task, Call.CAP_ACQUIRE, Value.of(Cap.IPC.bit()));
        assertEquals(Status.ERR_BADHANDLE, k.call(task, Call.IPC_SEND, Value.of(123456789L), Value.of("x"),
                Value.of(new long[0])).status());
        assertTrue(k.console().contains("WARN  ipc_send: bad handle: handle 123456789 is not a channel endpoint"),
                k.console());
    }

    @Test
    void denialsNotAuditedByTheirHandler_areAuditedByTheDispatcher_once() {
        k.tasks.declared.add(new io.ukernel.kernel.policy.Policy.TaskSpec("w", "src/w.py", Cap.ALL_MASK, false,
                io.ukernel.kernel.policy.Policy.RestartPolicy.never()));
        k.call(task, Call.CAP_ACQUIRE, Value.of(Cap.TASK.bit()));
        assertEquals(Status.ERR_DENIED, k.call(task, Call.TASK_SPAWN, Value.of("w"), Value.of(Cap.NET.bit()),
                Value.of(new long[0])).status());
        assertTrue(k.console().contains("WARN  task_spawn: denied: caps NET exceed the caller's active TASK"),
                k.console());
        // cap_acquire writes its own audit line (cap.denied): the dispatcher adds none.
        k.call(task, Call.CAP_DROP, Value.of(Cap.NET.bit()));
        assertEquals(Status.ERR_DENIED, k.call(task, Call.CAP_ACQUIRE, Value.of(Cap.NET.bit())).status());
        assertEquals(1, k.console().lines().filter(l -> l.contains("WARN") && l.contains("cap_acquire")
                || l.contains("WARN  caps: denied")).count(), k.console());
    }

    @Provide
    Arbitrary<Frame.Request> anyRequest() {
        Arbitrary<Value> value = Arbitraries.oneOf(
                Arbitraries.longs().map(Value::of),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(40).map(Value::of),
                Arbitraries.longs().array(long[].class).ofMaxSize(6).map(Value::of));
        return Arbitraries.integers().between(0, 0x80).flatMap(call -> value.list().ofMaxSize(4)
                .map(vs -> new Frame.Request(9, call, vs)));
    }

    @Property
    void anyRequest_getsAReplyWithItsSeq_andNeverThrows(@ForAll("anyRequest") Frame.Request request) {
        Task t = TestTasks.task(2, "fuzz", new CapabilitySet(Cap.ALL_MASK));
        t.caps().acquire(new CapabilitySet(Cap.ALL_MASK & ~Cap.LOG.bit()));
        Frame.Reply r = k.dispatcher.dispatch(t, request);
        assertEquals(9, r.seq());
        if (r.status() != Status.OK) {
            assertEquals(List.of(), r.values());
        } else {
            Call call = Call.ofNumber(request.call());
            List<ArgType> types = new ArrayList<>();
            r.values().forEach(v -> types.add(v.type()));
            assertEquals(call.results(), types, "results of " + call);
        }
    }
}
