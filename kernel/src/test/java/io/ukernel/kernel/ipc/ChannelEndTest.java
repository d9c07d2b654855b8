package io.ukernel.kernel.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ukernel.kernel.handle.Account;
import io.ukernel.kernel.handle.KernelObject;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChannelEndTest {
    @Test
    void close_chainOfEndsNestedInQueues_releasesEveryLevel_withoutRecursion() {
        Account account = new Account(Long.MAX_VALUE);
        int depth = 200_000; // far deeper than the reactor thread's stack could recurse
        ChannelEnd[] outer = ChannelEnd.pair(1 << 20);
        ChannelEnd[] current = outer;
        for (int i = 0; i < depth; i++) {
            ChannelEnd[] next = ChannelEnd.pair(1 << 20);
            // next[1] (the receiving end of the next level) travels in current's queue.
            assertEquals(ChannelEnd.SendResult.SENT, current[0].send(new byte[0], List.of(next[1]), account));
            current[0].close();
            current = next;
        }
        assertEquals(depth, account.handles());
        outer[1].close();
        assertEquals(0, account.handles());
        assertEquals(0, account.bytes());
        assertEquals(true, current[0].peerClosed(), "the deepest end was closed too");
    }

    @Test
    void take_releasesTheSendersCharge() {
        Account account = new Account(1 << 20);
        ChannelEnd[] c = ChannelEnd.pair(1 << 20);
        KernelObject carried = ChannelEnd.pair(1 << 20)[0];
        c[0].send(new byte[10], List.of(carried), account);
        assertEquals(1, account.handles());
        assertEquals(ChannelEnd.cost(10), account.bytes());
        c[1].take();
        assertEquals(0, account.handles());
        assertEquals(0, account.bytes());
    }
}
