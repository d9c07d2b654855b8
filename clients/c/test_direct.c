/*
 * ABI 1.1 direct sockets from C (run as a worker by kernel/src/test/.../CWorkerTest.java): a direct listener in the
 * kernel, a direct connection to it (uk_net_connect_direct), the accepted connection granted too
 * (uk_take_granted_fd after net_accept); bytes move on the host descriptors both ways; closing the client's
 * descriptor and its handle gives the server end of stream. Prints failures on stderr and exits non-zero.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ukernel.h"

#define CHECK(cond, what)                                                                                        \
    do {                                                                                                       \
        if (!(cond)) {                                                                                         \
            fprintf(stderr, "test_direct: %s failed (errno %d)\n", (what), errno);                             \
            return 1;                                                                                          \
        }                                                                                                      \
    } while (0)

/* Reads up to n bytes, waiting (bounded) for the descriptor to be readable. */
static ssize_t read_wait(int fd, char *buf, size_t n) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 60000) != 1) {
        return -1;
    }
    return read(fd, buf, n);
}

int main(void) {
    CHECK(uk_connect() > 0, "uk_connect");
    CHECK(uk_cap_acquire(UK_CAP_LOG | UK_CAP_NET, NULL) == UK_OK, "cap_acquire");
    uk_value out[3];
    size_t n;
    uk_value sock_args[2] = {uk_i64(UK_NET_AF_INET), uk_i64(UK_NET_SOCK_STREAM | UK_NET_DIRECT)};
    CHECK(uk_call(UK_CALL_NET_SOCKET, sock_args, 2, out, 3, &n) == UK_OK, "net_socket(DIRECT)");
    int64_t listener = out[0].i64;
    uk_value bind_args[3] = {uk_i64(listener), uk_bytes("127.0.0.1", 9), uk_i64(0)};
    CHECK(uk_call(UK_CALL_NET_BIND, bind_args, 3, out, 3, &n) == UK_OK, "net_bind");
    uk_value listen_args[2] = {uk_i64(listener), uk_i64(0)};
    CHECK(uk_call(UK_CALL_NET_LISTEN, listen_args, 2, out, 3, &n) == UK_OK, "net_listen");
    uk_value addr_args[2] = {uk_i64(listener), uk_i64(UK_NET_ADDR_LOCAL)};
    CHECK(uk_call(UK_CALL_NET_ADDR, addr_args, 2, out, 3, &n) == UK_OK, "net_addr");
    int64_t port = out[1].i64;

    int64_t client;
    int cfd;
    CHECK(uk_net_connect_direct(UK_NET_AF_INET, "127.0.0.1", port, &client, &cfd) == UK_OK, "connect_direct");
    CHECK(cfd >= 0, "a descriptor for the connection");

    uk_poll_item want = {listener, UK_EV_READABLE}, ready[1];
    size_t nready = 0;
    CHECK(uk_io_poll(&want, 1, 60000000000LL, ready, 1, &nready) == UK_OK && nready == 1, "poll the listener");
    uk_value accept_args[1] = {uk_i64(listener)};
    CHECK(uk_call(UK_CALL_NET_ACCEPT, accept_args, 1, out, 3, &n) == UK_OK, "net_accept");
    int64_t conn = out[0].i64;
    int sfd = uk_take_granted_fd();
    CHECK(sfd >= 0, "a descriptor for the accepted connection");
    CHECK(uk_take_granted_fd() == -1, "taken once");

    CHECK(write(cfd, "ping", 4) == 4, "write ping");
    char buf[16];
    CHECK(read_wait(sfd, buf, sizeof buf) == 4 && memcmp(buf, "ping", 4) == 0, "read ping");
    CHECK(write(sfd, "pong", 4) == 4, "write pong");
    CHECK(read_wait(cfd, buf, sizeof buf) == 4 && memcmp(buf, "pong", 4) == 0, "read pong");

    uk_value send_args[2] = {uk_i64(conn), uk_bytes("x", 1)};
    CHECK(uk_call(UK_CALL_NET_SEND, send_args, 2, out, 3, &n) == UK_ERR_BUSY, "net_send is ERR_BUSY");

    close(cfd);
    CHECK(uk_handle_close(client) == UK_OK, "handle_close(client)");
    CHECK(read_wait(sfd, buf, sizeof buf) == 0, "end of stream after the client's close");
    close(sfd);
    CHECK(uk_handle_close(conn) == UK_OK, "handle_close(conn)");
    CHECK(uk_logf(UK_LOG_INFO, "c-direct: granted round trip ok on port %d", (int)port) == UK_OK, "log");
    return 0;
}
