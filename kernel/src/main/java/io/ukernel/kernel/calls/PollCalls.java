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

/**
 * {@code io_poll}: readiness over every handle kind, read from the objects' signals (never from the host). When
 * nothing is ready and the timeout allows, the call is parked — the reactor goes on serving every other task
 * and every other call of this one — and answered when a signal changes or the deadline passes.
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
        long[] ready = ready(task, pairs);
        if (ready.length > 0 || timeoutNs == 0) {
            return Outcome.ok(Value.of(ready));
        }
        new Parked(task, args.seq(), pairs, timeoutNs).park();
        return new Outcome.Later();
    }

    /** The flattened (handle, events) pairs that are ready now. A handle that is not open reports ERROR. */
    static long[] ready(Task task, long[] pairs) {
        long[] out = new long[pairs.length];
        int n = 0;
        for (int i = 0; i < pairs.length; i += 2) {
            long h = pairs[i];
            int interest = (int) pairs[i + 1] | ALWAYS;
            KernelObject o = task.handles().get(h).orElse(null);
            int events = o instanceof Waitable w ? w.signals() & interest
                    : o == null ? Event.ERROR.bit() : 0;
            if (events != 0) {
                out[n++] = h;
                out[n++] = events;
            }
        }
        return Arrays.copyOf(out, n);
    }

    /** A poll waiting for a signal change or its deadline. */
    private final class Parked implements Waiter {
        private final Task task;
        private final int seq;
        private final long[] pairs;
        private final long timeoutNs;
        private final Waitable[] watched;
        private final Runnable cancel = this::cancel;
        private Reactor.Timer timer;
        private boolean done;

        Parked(Task task, int seq, long[] pairs, long timeoutNs) {
            this.task = task;
            this.seq = seq;
            this.pairs = pairs;
            this.timeoutNs = timeoutNs;
            this.watched = new Waitable[pairs.length / 2];
            for (int i = 0; i < watched.length; i++) {
                if (task.handles().get(pairs[2 * i]).orElse(null) instanceof Waitable w) {
                    watched[i] = w;
                }
            }
        }

        void park() {
            for (Waitable w : watched) {
                if (w != null) {
                    w.addWaiter(this);
                }
            }
            if (timeoutNs > 0) {
                timer = reactor.schedule(timeoutNs, () -> complete(new long[0]));
            }
            task.park(cancel);
        }

        @Override
        public void signalled(Waitable source) {
            long[] ready = ready(task, pairs);
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
            for (Waitable w : watched) {
                if (w != null) {
                    w.removeWaiter(this);
                }
            }
        }
    }
}
