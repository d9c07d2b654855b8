package io.ukernel.kernel.calls;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Event;
import io.ukernel.abi.Frame;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Reactor;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.handle.KernelObject;
import io.ukernel.kernel.poll.Waitable;
import io.ukernel.kernel.poll.Waiter;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code io_poll}: readiness over every handle kind, read from the objects' signals (never from the host). When
 * nothing is ready and the timeout allows, the call is parked — the reactor goes on serving every other task
 * and every other call of this one — and answered when a signal changes or the deadline passes.
 *
 * <p>Cost is linear in the call's pairs whatever they hold: a handle listed several times is coalesced into one
 * item (its interests joined) and reported once; a parked poll registers one waiter per distinct object (an O(1)
 * set insertion), and a signal change costs it one lookup unless it completes the poll. A task may have at most
 * {@link Abi#MAX_PARKED_CALLS} polls parked at once ({@code ERR_LIMIT} beyond), which bounds the waiters, timers
 * and late replies it makes the kernel hold.
 */
final class PollCalls {
    /** Always reported, asked for or not: a closed peer or an error must never go unnoticed. */
    private static final int ALWAYS = Event.HANGUP.bit() | Event.ERROR.bit();
    private static final int ALL = Event.READABLE.bit() | Event.WRITABLE.bit() | ALWAYS;

    private final Reactor reactor;

    PollCalls(Reactor reactor) {
        this.reactor = reactor;
    }

    Outcome poll(Task task, Args args) {
        long[] pairs = args.i64s(0);
        long timeoutNs = args.i64(1);
        if (pairs.length % 2 != 0) {
            return Outcome.err(Status.ERR_INVAL, "io_poll pairs must be (handle, interest) pairs: odd length "
                    + pairs.length);
        }
        if (pairs.length / 2 > Abi.MAX_POLL_ITEMS) {
            return Outcome.err(Status.ERR_TOOBIG, (pairs.length / 2) + " pairs exceed " + Abi.MAX_POLL_ITEMS);
        }
        for (int i = 1; i < pairs.length; i += 2) {
            if ((pairs[i] & ~ALL) != 0) {
                return Outcome.err(Status.ERR_INVAL, "interest " + pairs[i] + " has unknown bits");
            }
        }
        Items items = Items.coalesce(pairs);
        long[] ready = items.ready(task);
        if (ready.length > 0 || timeoutNs == 0) {
            return Outcome.ok(Value.of(ready));
        }
        if (task.parkedCount() >= Abi.MAX_PARKED_CALLS) {
            return Outcome.err(Status.ERR_LIMIT, "this task already has " + task.parkedCount()
                    + " io_poll calls waiting (at most MAX_PARKED_CALLS=" + Abi.MAX_PARKED_CALLS
                    + " per task): wait on one poll with all the handles instead of one poll per handle");
        }
        new Parked(task, args.seq(), items, timeoutNs).park();
        return new Outcome.Later();
    }

    /** The distinct handles of one call, in first-listed order, each with the union of its interests. */
    record Items(long[] handles, int[] interests) {
        static Items coalesce(long[] pairs) {
            LinkedHashMap<Long, Integer> joined = new LinkedHashMap<>();
            for (int i = 0; i < pairs.length; i += 2) {
                joined.merge(pairs[i], (int) pairs[i + 1] | ALWAYS, (x, y) -> x | y);
            }
            long[] handles = new long[joined.size()];
            int[] interests = new int[joined.size()];
            int n = 0;
            for (Map.Entry<Long, Integer> e : joined.entrySet()) {
                handles[n] = e.getKey();
                interests[n++] = e.getValue();
            }
            return new Items(handles, interests);
        }

        int size() {
            return handles.length;
        }

        /** The flattened (handle, events) pairs that are ready now. A handle that is not open reports ERROR. */
        long[] ready(Task task) {
            long[] out = new long[2 * handles.length];
            int n = 0;
            for (int i = 0; i < handles.length; i++) {
                KernelObject o = task.handles().get(handles[i]).orElse(null);
                int events = o instanceof Waitable w ? w.signals() & interests[i]
                        : o == null ? Event.ERROR.bit() : 0;
                if (events != 0) {
                    out[n++] = handles[i];
                    out[n++] = events;
                }
            }
            return Arrays.copyOf(out, n);
        }
    }

    /** A poll waiting for a signal change or its deadline. */
    private final class Parked implements Waiter {
        private final Task task;
        private final int seq;
        private final Items items;
        private final long timeoutNs;
        /** Each distinct watched object with the interests it is watched for (identity: one entry per object). */
        private final IdentityHashMap<Waitable, Integer> watched = new IdentityHashMap<>();
        private final Runnable cancel = this::cancel;
        private Reactor.Timer timer;
        private boolean done;

        Parked(Task task, int seq, Items items, long timeoutNs) {
            this.task = task;
            this.seq = seq;
            this.items = items;
            this.timeoutNs = timeoutNs;
            for (int i = 0; i < items.size(); i++) {
                if (task.handles().get(items.handles()[i]).orElse(null) instanceof Waitable w) {
                    watched.merge(w, items.interests()[i], (x, y) -> x | y);
                }
            }
        }

        void park() {
            for (Waitable w : watched.keySet()) {
                w.addWaiter(this);
            }
            if (timeoutNs > 0) {
                timer = reactor.schedule(timeoutNs, () -> complete(new long[0]));
            }
            task.park(cancel);
        }

        @Override
        public void signalled(Waitable source) {
            Integer want = watched.get(source);
            // Only a change this poll asked about (or the object closing) is worth rescanning the items for.
            if (want != null && !source.isClosed() && (source.signals() & want) == 0) {
                return;
            }
            long[] ready = items.ready(task);
            if (ready.length > 0) {
                complete(ready);
            }
        }

        private void complete(long[] ready) {
            if (done) {
                return;
            }
            cancel();
            task.unpark(cancel);
            task.replyLater(Frame.Reply.ok(seq, Value.of(ready)));
        }

        private void cancel() {
            done = true;
            if (timer != null) {
                timer.cancel();
            }
            for (Waitable w : watched.keySet()) {
                w.removeWaiter(this);
            }
        }
    }
}
