/*
 * A ukernel worker in C: connects, acquires LOG|TIME|IPC, logs the monotonic time, sends "ping" through a
 * channel to itself, checks it arrived, polls the sending end (WRITABLE), closes both ends (the survivor sees
 * HANGUP), and exits through task_exit. Any failure is logged and ends the task with a non-zero status.
 *
 *   gcc -std=c11 -Wall -Wextra -Werror -O2 -I include -I clients/c clients/c/ukernel.c examples/c-worker/worker.c
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ukernel.h"

/* Exit statuses. */
enum { EXIT_CONNECT = 2, EXIT_CAPS = 3, EXIT_STEP = 4 };

/* Reports a failed step on the console (or on stderr if even LOG is out of reach) and ends the task. */
static int die(int status, const char *what, int rc) {
    char msg[256];
    if (rc == UK_OK) {
        snprintf(msg, sizeof msg, "c-worker: %s failed", what);
    } else {
        snprintf(msg, sizeof msg, "c-worker: %s failed: %s (%d)", what, uk_strerror(rc), rc);
    }
    if (uk_log_write(UK_LOG_ERROR, msg, strlen(msg)) != UK_OK) {
        fprintf(stderr, "%s\n", msg);
    }
    int erc = uk_task_exit(status); /* returns only if the kernel refused or the connection is gone */
    fprintf(stderr, "c-worker: task_exit failed: %s\n", uk_strerror(erc));
    return status;
}

#define STEP(call, what)                                                                                         \
    do {                                                                                                       \
        int rc_ = (call);                                                                                      \
        if (rc_ != UK_OK) {                                                                                    \
            return die(EXIT_STEP, (what), rc_);                                                                \
        }                                                                                                      \
    } while (0)

int main(void) {
    int64_t tid = uk_connect();
    if (tid <= 0) {
        fprintf(stderr, "c-worker: cannot connect to the kernel: %s (%" PRId64 ")\n", uk_strerror(tid), tid);
        return EXIT_CONNECT;
    }

    int64_t active = 0;
    int rc = uk_cap_acquire(UK_CAP_LOG | UK_CAP_TIME | UK_CAP_IPC, &active);
    if (rc != UK_OK) {
        /* Acquisition is all or none: try LOG alone so the failure can at least be reported on the console. */
        (void)uk_cap_acquire(UK_CAP_LOG, NULL);
        return die(EXIT_CAPS, "cap_acquire(LOG|TIME|IPC)", rc);
    }

    int64_t now = 0;
    STEP(uk_time_monotonic_ns(&now), "time_monotonic_ns");
    STEP(uk_logf(UK_LOG_INFO, "c-worker: task %" PRId64 " up at monotonic %" PRId64 " ns, ABI 0x%" PRIx64
                 ", active caps %" PRId64, tid, now, (uint64_t)uk_kernel_version(), active),
         "log_write");

    int64_t h0 = 0, h1 = 0;
    STEP(uk_ipc_channel_create(&h0, &h1), "ipc_channel_create");
    STEP(uk_ipc_send(h0, "ping", 4, NULL, 0), "ipc_send");

    char buf[UK_MAX_MSG_BYTES];
    int64_t handles[UK_MAX_MSG_HANDLES];
    size_t len = 0, nh = 0;
    STEP(uk_ipc_recv(h1, buf, sizeof buf, &len, handles, UK_MAX_MSG_HANDLES, &nh), "ipc_recv");
    if (len != 4 || memcmp(buf, "ping", 4) != 0 || nh != 0) {
        uk_logf(UK_LOG_ERROR, "c-worker: received %zu bytes and %zu handles, expected \"ping\" and none", len, nh);
        return die(EXIT_STEP, "ipc_recv check", UK_OK);
    }

    /* The queue toward h1 is empty again: h0 can send (WRITABLE), and nothing waits on h0 (no READABLE). */
    uk_poll_item want[1] = {{h0, UK_EV_READABLE | UK_EV_WRITABLE}};
    uk_poll_item ready[1];
    size_t nready = 0;
    STEP(uk_io_poll(want, 1, 0, ready, 1, &nready), "io_poll");
    if (nready != 1 || ready[0].handle != h0 || ready[0].events != UK_EV_WRITABLE) {
        uk_logf(UK_LOG_ERROR, "c-worker: io_poll gave %zu ready (handle %" PRId64 ", events %" PRId64
                "), expected handle %" PRId64 " WRITABLE", nready, nready ? ready[0].handle : 0,
                nready ? ready[0].events : 0, h0);
        return die(EXIT_STEP, "io_poll check", UK_OK);
    }
    STEP(uk_logf(UK_LOG_INFO, "c-worker: io_poll: endpoint %" PRId64 " WRITABLE", h0), "log_write");

    /* Closing one end hangs up the other: HANGUP is reported even with no interest. */
    STEP(uk_ipc_close(h0), "ipc_close");
    uk_poll_item watch[1] = {{h1, 0}};
    STEP(uk_io_poll(watch, 1, 0, ready, 1, &nready), "io_poll");
    if (nready != 1 || ready[0].handle != h1 || (ready[0].events & UK_EV_HANGUP) == 0) {
        return die(EXIT_STEP, "HANGUP check", UK_OK);
    }
    STEP(uk_handle_close(h1), "handle_close");

    STEP(uk_log_write(UK_LOG_INFO, "c-worker: channel round trip ok", strlen("c-worker: channel round trip ok")),
         "log_write");
    rc = uk_task_exit(0);
    fprintf(stderr, "c-worker: task_exit failed: %s\n", uk_strerror(rc));
    return EXIT_STEP;
}
