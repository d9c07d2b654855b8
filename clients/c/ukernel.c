/*
 * ukernel C client: see ukernel.h and docs/kernel-abi.md §2.
 *
 * Every integer on the wire is little-endian and is written and read byte by byte (no host-order assumption).
 * Every length in a reply is checked against what is actually there before it is used.
 */
#define _POSIX_C_SOURCE 200809L

#include "ukernel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

_Static_assert(UK_REQUEST_HEADER_BYTES == 12 && UK_REPLY_HEADER_BYTES == 12, "12-byte headers");

/* Bytes of a header counted by `length` (everything after the length field). */
#define UK_BODY_HEADER (UK_REPLY_HEADER_BYTES - 4)
/* Largest whole frame, length field included. */
#define UK_FRAME_CAP ((size_t)UK_MAX_FRAME_BYTES + 4u)

#if defined(MSG_NOSIGNAL)
#define UK_SEND_FLAGS MSG_NOSIGNAL
#else
#define UK_SEND_FLAGS 0
#endif

/* ---- connection state (one per process) ----------------------------------------------------------------- */

static int g_fd = -1;
static uint32_t g_seq;
static int64_t g_kernel_version;
static uint8_t g_tx[UK_FRAME_CAP];
static uint8_t g_rx[UK_FRAME_CAP];
/*
 * ABI 1.1 granted descriptors: what recvmsg brought (SCM_RIGHTS), oldest first, and the descriptor of the last
 * granted reply until uk_take_granted_fd() takes it. One request is outstanding at a time, so at most one waits.
 */
#define UK_MAX_PENDING_FDS 16
static int g_fds[UK_MAX_PENDING_FDS];
static size_t g_nfds;
static int g_granted = -1;

/* ---- little-endian helpers ---------------------------------------------------------------------------- */

static void put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xffu);
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)((v >> (8 * i)) & 0xffu);
    }
}

static void put_i64(uint8_t *p, int64_t v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u); /* int64_t is two's complement by definition */
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)((u >> (8 * i)) & 0xffu);
    }
}

static uint16_t get_u16(const uint8_t *p) {
    return (uint16_t)((uint16_t)p[0] | (uint16_t)((uint16_t)p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static int64_t get_i64(const uint8_t *p) {
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--) {
        u = (u << 8) | p[i];
    }
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* ---- values ------------------------------------------------------------------------------------------- */

uk_value uk_i64(int64_t v) {
    uk_value x;
    memset(&x, 0, sizeof x);
    x.tag = UK_TAG_I64;
    x.i64 = v;
    return x;
}

uk_value uk_bytes(const void *data, size_t n) {
    uk_value x;
    memset(&x, 0, sizeof x);
    x.tag = UK_TAG_BYTES;
    x.n = n;
    x.bytes = (const uint8_t *)data;
    return x;
}

uk_value uk_i64s(const int64_t *v, size_t n) {
    uk_value x;
    memset(&x, 0, sizeof x);
    x.tag = UK_TAG_I64S;
    x.n = n;
    x.i64s = v;
    return x;
}

int64_t uk_value_i64s_at(const uk_value *v, size_t i) {
    if (v == NULL || v->tag != UK_TAG_I64S || i >= v->n) {
        return 0;
    }
    if (v->i64s != NULL) {
        return v->i64s[i];
    }
    return get_i64(v->bytes + 8 * i);
}

/* ---- codec ---------------------------------------------------------------------------------------------- */

int uk_encode_request(uint8_t *out, size_t cap, uint32_t seq, uint16_t call, const uk_value *args, size_t argc,
                      size_t *len) {
    if (out == NULL || len == NULL || (argc > 0 && args == NULL) || argc > UK_MAX_VALUES) {
        return UK_E_ARG;
    }
    /* Size first, in 64 bits, stopping as soon as the frame limit is passed (no overflow possible). */
    uint64_t body = UK_BODY_HEADER;
    for (size_t i = 0; i < argc; i++) {
        const uk_value *v = &args[i];
        switch (v->tag) {
        case UK_TAG_I64:
            body += 9;
            break;
        case UK_TAG_BYTES:
            if (v->n > 0 && v->bytes == NULL) {
                return UK_E_ARG;
            }
            if (v->n > UK_MAX_FRAME_BYTES) {
                return UK_E_FRAME;
            }
            body += 5 + (uint64_t)v->n;
            break;
        case UK_TAG_I64S:
            if (v->n > 0 && v->i64s == NULL) {
                return UK_E_ARG;
            }
            if (v->n > UK_MAX_FRAME_BYTES / 8) {
                return UK_E_FRAME;
            }
            body += 5 + 8 * (uint64_t)v->n;
            break;
        default:
            return UK_E_ARG;
        }
        if (body > UK_MAX_FRAME_BYTES) {
            return UK_E_FRAME;
        }
    }
    if (4 + body > cap) {
        return UK_E_ARG;
    }
    uint8_t *p = out;
    put_u32(p, (uint32_t)body);
    put_u32(p + 4, seq);
    put_u16(p + 8, call);
    put_u16(p + 10, (uint16_t)argc);
    p += UK_REQUEST_HEADER_BYTES;
    for (size_t i = 0; i < argc; i++) {
        const uk_value *v = &args[i];
        *p++ = v->tag;
        switch (v->tag) {
        case UK_TAG_I64:
            put_i64(p, v->i64);
            p += 8;
            break;
        case UK_TAG_BYTES:
            put_u32(p, (uint32_t)v->n);
            p += 4;
            if (v->n > 0) {
                memcpy(p, v->bytes, v->n);
                p += v->n;
            }
            break;
        default: /* UK_TAG_I64S, checked above */
            put_u32(p, (uint32_t)v->n);
            p += 4;
            for (size_t k = 0; k < v->n; k++) {
                put_i64(p, v->i64s[k]);
                p += 8;
            }
            break;
        }
    }
    *len = (size_t)(p - out);
    return UK_OK;
}

int uk_decode_reply(const uint8_t *in, size_t len, uint32_t *seq, uint16_t *status, uk_value *out, size_t outcap,
                    size_t *count) {
    if (in == NULL || seq == NULL || status == NULL || count == NULL || (outcap > 0 && out == NULL)) {
        return UK_E_ARG;
    }
    if (len < UK_REPLY_HEADER_BYTES) {
        return UK_E_PROTO;
    }
    uint32_t length = get_u32(in);
    if (length < UK_BODY_HEADER || length > UK_MAX_FRAME_BYTES || (size_t)length != len - 4) {
        return UK_E_PROTO;
    }
    uint16_t st = get_u16(in + 8);
    uint16_t n = get_u16(in + 10);
    uint16_t bare = (uint16_t)(st & ~UK_REPLY_GRANTED);
    if (n > UK_MAX_VALUES || (bare != UK_OK && n != 0) || (st != bare && bare != UK_OK)) {
        return UK_E_PROTO; /* only an OK reply may carry values, or a descriptor */
    }
    size_t pos = UK_REPLY_HEADER_BYTES;
    /* First pass validates the whole frame; decoding into `out` only when it fits. */
    for (uint16_t i = 0; i < n; i++) {
        size_t left = len - pos;
        if (left < 1) {
            return UK_E_PROTO;
        }
        uint8_t tag = in[pos];
        pos++;
        left--;
        uk_value v;
        memset(&v, 0, sizeof v);
        v.tag = tag;
        switch (tag) {
        case UK_TAG_I64:
            if (left < 8) {
                return UK_E_PROTO;
            }
            v.i64 = get_i64(in + pos);
            pos += 8;
            break;
        case UK_TAG_BYTES: {
            if (left < 4) {
                return UK_E_PROTO;
            }
            uint32_t k = get_u32(in + pos);
            if ((size_t)k > left - 4) {
                return UK_E_PROTO;
            }
            v.n = k;
            v.bytes = in + pos + 4;
            pos += 4 + (size_t)k;
            break;
        }
        case UK_TAG_I64S: {
            if (left < 4) {
                return UK_E_PROTO;
            }
            uint32_t k = get_u32(in + pos);
            if ((size_t)k > (left - 4) / 8) {
                return UK_E_PROTO;
            }
            v.n = k;
            v.bytes = in + pos + 4;
            pos += 4 + 8 * (size_t)k;
            break;
        }
        default:
            return UK_E_PROTO;
        }
        if (i < outcap) {
            out[i] = v;
        }
    }
    if (pos != len) {
        return UK_E_PROTO;
    }
    *seq = get_u32(in + 4);
    *status = st;
    *count = n;
    return n > outcap ? UK_E_TRUNC : UK_OK;
}

/* ---- transport ---------------------------------------------------------------------------------------- */

/* Closes every received descriptor no granted reply claimed. */
static void close_pending_fds(void) {
    int saved = errno;
    for (size_t i = 0; i < g_nfds; i++) {
        close(g_fds[i]);
    }
    g_nfds = 0;
    errno = saved;
}

void uk_disconnect(void) {
    close_pending_fds();
    if (g_granted >= 0) {
        close(g_granted);
        g_granted = -1;
    }
    if (g_fd >= 0) {
        int saved = errno;
        close(g_fd);
        g_fd = -1;
        errno = saved;
    }
}

int uk_take_granted_fd(void) {
    int fd = g_granted;
    g_granted = -1;
    return fd;
}

int uk_fd(void) {
    return g_fd;
}

int64_t uk_kernel_version(void) {
    return g_kernel_version;
}

/* Fails the connection: closes it and returns `code`. */
static int fail(int code) {
    uk_disconnect();
    return code;
}

static int write_all(const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(g_fd, p, n, UK_SEND_FLAGS);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return (errno == EPIPE || errno == ECONNRESET) ? UK_E_EOF : UK_E_IO;
        }
        p += (size_t)w;
        n -= (size_t)w;
    }
    return UK_OK;
}

/* read() with recvmsg: descriptors that come with the bytes (SCM_RIGHTS) join g_fds. */
static ssize_t read_some(uint8_t *p, size_t n) {
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(UK_MAX_PENDING_FDS * sizeof(int))];
    } control;
    struct iovec iov = {.iov_base = p, .iov_len = n};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    ssize_t r = recvmsg(g_fd, &msg, MSG_CMSG_CLOEXEC);
    if (r < 0) {
        return r;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (g_nfds < UK_MAX_PENDING_FDS) {
                g_fds[g_nfds++] = fd;
            } else {
                close(fd);
            }
        }
    }
    if (msg.msg_flags & MSG_CTRUNC) {
        errno = EPROTO;
        return -2; /* descriptors were lost: the stream can no longer be trusted */
    }
    return r;
}

static int read_full(uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t r = read_some(p, n);
        if (r == -2) {
            return UK_E_PROTO;
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == ECONNRESET ? UK_E_EOF : UK_E_IO;
        }
        if (r == 0) {
            return UK_E_EOF;
        }
        p += (size_t)r;
        n -= (size_t)r;
    }
    return UK_OK;
}

/* Sends a request, reads its reply into g_rx and decodes it. Returns the status (>= 0) or UK_E_*. */
static int call_raw(uint16_t call, const uk_value *args, size_t argc, uk_value *out, size_t outcap, size_t *count) {
    if (g_fd < 0) {
        return UK_E_NOTCONN;
    }
    uint32_t seq = ++g_seq;
    size_t len;
    int rc = uk_encode_request(g_tx, sizeof g_tx, seq, call, args, argc, &len);
    if (rc != UK_OK) {
        return rc; /* nothing sent: the connection is fine */
    }
    if ((rc = write_all(g_tx, len)) != UK_OK) {
        return fail(rc);
    }
    /* Only one request is ever outstanding, so the next frame must be its reply. */
    if ((rc = read_full(g_rx, 4)) != UK_OK) {
        return fail(rc);
    }
    uint32_t length = get_u32(g_rx);
    if (length < UK_BODY_HEADER || length > UK_MAX_FRAME_BYTES) {
        return fail(UK_E_PROTO); /* checked before reading: never trust the kernel's length */
    }
    if ((rc = read_full(g_rx + 4, length)) != UK_OK) {
        return fail(rc);
    }
    uint32_t rseq;
    uint16_t status;
    size_t n;
    rc = uk_decode_reply(g_rx, 4 + (size_t)length, &rseq, &status, out, outcap, &n);
    if ((rc != UK_OK && rc != UK_E_TRUNC) || rseq != seq) {
        return fail(UK_E_PROTO);
    }
    if (g_granted >= 0) { /* the previous grant was never taken */
        close(g_granted);
        g_granted = -1;
    }
    if (status & UK_REPLY_GRANTED) {
        if (g_nfds == 0) {
            return fail(UK_E_PROTO); /* marked granted, but no descriptor came with it */
        }
        g_granted = g_fds[0];
        memmove(g_fds, g_fds + 1, (g_nfds - 1) * sizeof(int));
        g_nfds--;
        status = UK_OK;
    }
    close_pending_fds(); /* the reply is whole and no other is outstanding: anything left had no mark */
    if (rc == UK_E_TRUNC) {
        return rc; /* well-formed, but the caller's array was too small; the stream is still in step */
    }
    if (count != NULL) {
        *count = n;
    }
    return status;
}

int uk_call(uint16_t call, const uk_value *args, size_t argc, uk_value *out, size_t outcap, size_t *count) {
    return call_raw(call, args, argc, out, outcap, count);
}

/*
 * A typed call: the OK reply must match `sig` exactly ('I' I64, 'B' BYTES, 'S' I64S), else the kernel is not
 * speaking this ABI and the connection is failed with UK_E_PROTO.
 */
static int call_sig(uint16_t call, const uk_value *args, size_t argc, const char *sig, uk_value *out) {
    uk_value scratch[UK_MAX_VALUES];
    size_t want = strlen(sig);
    size_t n = 0;
    int rc = call_raw(call, args, argc, scratch, UK_MAX_VALUES, &n);
    if (rc != UK_OK) {
        return rc;
    }
    if (n != want) {
        return fail(UK_E_PROTO);
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t tag = sig[i] == 'I' ? UK_TAG_I64 : sig[i] == 'B' ? UK_TAG_BYTES : UK_TAG_I64S;
        if (scratch[i].tag != tag) {
            return fail(UK_E_PROTO);
        }
        if (out != NULL) {
            out[i] = scratch[i];
        }
    }
    return UK_OK;
}

/* ---- connect ---------------------------------------------------------------------------------------- */

static int hex_nibble(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int64_t uk_connect_to(const char *endpoint, const char *token_hex) {
    if (g_fd >= 0) {
        return UK_E_ARG;
    }
    if (endpoint == NULL || token_hex == NULL || strlen(token_hex) != 2 * UK_TOKEN_BYTES) {
        return UK_E_ENV;
    }
    uint8_t token[UK_TOKEN_BYTES];
    for (size_t i = 0; i < UK_TOKEN_BYTES; i++) {
        int hi = hex_nibble(token_hex[2 * i]);
        int lo = hex_nibble(token_hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return UK_E_ENV;
        }
        token[i] = (uint8_t)(hi << 4 | lo);
    }
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t plen = strlen(endpoint);
    if (plen == 0 || plen >= sizeof addr.sun_path) {
        return UK_E_ENV;
    }
    memcpy(addr.sun_path, endpoint, plen + 1);

    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        return UK_E_CONNECT;
    }
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC); /* the connection is the task's; never inherited */
#if !defined(MSG_NOSIGNAL) && defined(SO_NOSIGPIPE)
    {
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
    }
#endif
    if (connect(fd, (const struct sockaddr *)&addr, sizeof addr) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return UK_E_CONNECT;
    }
    g_fd = fd;
    g_kernel_version = 0;

    uk_value args[2] = {uk_bytes(token, sizeof token), uk_i64(UK_ABI_VERSION)};
    uk_value out[2];
    int rc = call_sig(UK_CALL_HELLO, args, 2, "II", out);
    if (rc < 0) {
        return rc; /* call_sig already closed the connection */
    }
    if (rc != UK_OK) {
        uk_disconnect(); /* a failed hello is final: the kernel closes its side too */
        return rc < 1000 ? -(int64_t)rc : UK_E_PROTO;
    }
    if (out[0].i64 <= 0 || (out[1].i64 >> 16) != UK_ABI_VERSION_MAJOR) {
        return fail(UK_E_PROTO);
    }
    g_kernel_version = out[1].i64;
    return out[0].i64;
}

int64_t uk_adopt(int fd) {
    if (fd < 0) {
        return UK_E_ENV;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) {
        return UK_E_ENV; /* not an open descriptor */
    }
    (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK); /* the calls here block; the handing process may have set it */
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    g_fd = fd;
    g_kernel_version = 0;
    int64_t version = 0;
    int rc = uk_abi_version(&version);
    if (rc != UK_OK) {
        return rc < 0 ? rc : -(int64_t)rc;
    }
    if ((version >> 16) != UK_ABI_VERSION_MAJOR) {
        return fail(UK_E_PROTO);
    }
    g_kernel_version = version;
    int64_t id = 0;
    rc = uk_task_self(&id, NULL, 0, NULL);
    if (rc != UK_OK) {
        return rc < 0 ? rc : -(int64_t)rc;
    }
    return id;
}

int64_t uk_connect(void) {
    const char *endpoint = getenv(UK_ENV_ENDPOINT);
    const char *token = getenv(UK_ENV_TOKEN);
    if (endpoint == NULL || token == NULL) {
        const char *handed = getenv(UK_ENV_CONNECTION_FD);
        if (handed == NULL || *handed == '\0') {
            return UK_E_ENV;
        }
        char *end = NULL;
        long fd = strtol(handed, &end, 10);
        if (*end != '\0' || fd < 0 || fd > INT32_MAX) {
            return UK_E_ENV;
        }
        unsetenv(UK_ENV_CONNECTION_FD);
        return uk_adopt((int)fd);
    }
    int64_t id = uk_connect_to(endpoint, token);
    if (id > 0) {
        /* ABI §2.1: the token is spent; nothing later in this process should see either variable. */
        unsetenv(UK_ENV_ENDPOINT);
        unsetenv(UK_ENV_TOKEN);
    }
    return id;
}

/* ---- typed calls ----------------------------------------------------------------------------------------- */

static int call_i64_to_i64(uint16_t call, int64_t arg, int64_t *result) {
    uk_value a = uk_i64(arg);
    uk_value out[1];
    int rc = call_sig(call, &a, 1, "I", out);
    if (rc == UK_OK && result != NULL) {
        *result = out[0].i64;
    }
    return rc;
}

static int call_void_to_i64(uint16_t call, int64_t *result) {
    uk_value out[1];
    int rc = call_sig(call, NULL, 0, "I", out);
    if (rc == UK_OK && result != NULL) {
        *result = out[0].i64;
    }
    return rc;
}

static int call_handle(uint16_t call, int64_t handle) {
    uk_value a = uk_i64(handle);
    return call_sig(call, &a, 1, "", NULL);
}

int uk_abi_version(int64_t *version) {
    return call_void_to_i64(UK_CALL_ABI_VERSION, version);
}

int uk_cap_acquire(int64_t mask, int64_t *active) {
    return call_i64_to_i64(UK_CALL_CAP_ACQUIRE, mask, active);
}

int uk_cap_drop(int64_t mask, int64_t *active) {
    return call_i64_to_i64(UK_CALL_CAP_DROP, mask, active);
}

int uk_cap_query(int64_t *active, int64_t *ceiling) {
    uk_value out[2];
    int rc = call_sig(UK_CALL_CAP_QUERY, NULL, 0, "II", out);
    if (rc == UK_OK) {
        if (active != NULL) {
            *active = out[0].i64;
        }
        if (ceiling != NULL) {
            *ceiling = out[1].i64;
        }
    }
    return rc;
}

int uk_handle_close(int64_t handle) {
    return call_handle(UK_CALL_HANDLE_CLOSE, handle);
}

int uk_log_write(int64_t level, const void *msg, size_t len) {
    if (msg == NULL && len > 0) {
        return UK_E_ARG;
    }
    uk_value args[2] = {uk_i64(level), uk_bytes(msg, len)};
    return call_sig(UK_CALL_LOG_WRITE, args, 2, "", NULL);
}

int uk_logf(int64_t level, const char *fmt, ...) {
    static char buf[UK_MAX_LOG_BYTES + 1];
    if (fmt == NULL) {
        return UK_E_ARG;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return UK_E_ARG;
    }
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1; /* longer output is cut at the limit */
    return uk_log_write(level, buf, len);
}

int uk_time_monotonic_ns(int64_t *ns) {
    return call_void_to_i64(UK_CALL_TIME_MONOTONIC_NS, ns);
}

int uk_time_wall_ns(int64_t *ns) {
    return call_void_to_i64(UK_CALL_TIME_WALL_NS, ns);
}

int uk_task_self(int64_t *id, char *name, size_t cap, size_t *name_len) {
    if (name == NULL && cap > 0) {
        return UK_E_ARG;
    }
    uk_value out[2];
    int rc = call_sig(UK_CALL_TASK_SELF, NULL, 0, "IB", out);
    if (rc != UK_OK) {
        return rc;
    }
    if (id != NULL) {
        *id = out[0].i64;
    }
    if (name_len != NULL) {
        *name_len = out[1].n;
    }
    if (cap == 0) {
        return UK_OK;
    }
    size_t k = out[1].n < cap - 1 ? out[1].n : cap - 1;
    if (k > 0) {
        memcpy(name, out[1].bytes, k);
    }
    name[k] = '\0';
    return k < out[1].n ? UK_E_TRUNC : UK_OK;
}

int uk_task_yield(void) {
    return call_sig(UK_CALL_TASK_YIELD, NULL, 0, "", NULL);
}

int uk_task_exit(int64_t code) {
    uk_value a = uk_i64(code);
    int rc = call_sig(UK_CALL_TASK_EXIT, &a, 1, "", NULL);
    if (rc != UK_OK) {
        return rc;
    }
    /* ABI §7: the kernel executes nothing more from this connection; the process MUST now exit with `code`. */
    uk_disconnect();
    exit((int)code);
}

int uk_ipc_channel_create(int64_t *h0, int64_t *h1) {
    uk_value out[2];
    int rc = call_sig(UK_CALL_IPC_CHANNEL_CREATE, NULL, 0, "II", out);
    if (rc == UK_OK) {
        if (h0 != NULL) {
            *h0 = out[0].i64;
        }
        if (h1 != NULL) {
            *h1 = out[1].i64;
        }
    }
    return rc;
}

int uk_ipc_send(int64_t channel, const void *data, size_t len, const int64_t *handles, size_t nhandles) {
    if ((data == NULL && len > 0) || (handles == NULL && nhandles > 0)) {
        return UK_E_ARG;
    }
    uk_value args[3] = {uk_i64(channel), uk_bytes(data, len), uk_i64s(handles, nhandles)};
    return call_sig(UK_CALL_IPC_SEND, args, 3, "", NULL);
}

int uk_ipc_recv(int64_t channel, void *buf, size_t cap, size_t *len, int64_t *handles, size_t hcap,
                size_t *nhandles) {
    if ((buf == NULL && cap > 0) || (handles == NULL && hcap > 0)) {
        return UK_E_ARG;
    }
    uk_value a = uk_i64(channel);
    uk_value out[2];
    int rc = call_sig(UK_CALL_IPC_RECV, &a, 1, "BS", out);
    if (rc != UK_OK) {
        return rc;
    }
    /* The ABI's own limits bound a message; a reply beyond them is not this ABI. */
    if (out[0].n > UK_MAX_MSG_BYTES || out[1].n > UK_MAX_MSG_HANDLES) {
        return fail(UK_E_PROTO);
    }
    size_t nb = out[0].n;
    size_t nh = out[1].n;
    size_t kb = nb < cap ? nb : cap;
    if (kb > 0) {
        memcpy(buf, out[0].bytes, kb);
    }
    int64_t excess[UK_MAX_MSG_HANDLES];
    size_t nexcess = 0;
    for (size_t i = 0; i < nh; i++) {
        int64_t h = uk_value_i64s_at(&out[1], i);
        if (i < hcap) {
            handles[i] = h;
        } else {
            excess[nexcess++] = h;
        }
    }
    if (len != NULL) {
        *len = nb;
    }
    if (nhandles != NULL) {
        *nhandles = nh;
    }
    /* The message is already taken: close the handles the caller has no room for, so none leak. */
    for (size_t i = 0; i < nexcess; i++) {
        int crc = uk_handle_close(excess[i]);
        if (crc < 0) {
            return crc;
        }
    }
    return (kb < nb || nexcess > 0) ? UK_E_TRUNC : UK_OK;
}

int uk_ipc_close(int64_t channel) {
    return call_handle(UK_CALL_IPC_CLOSE, channel);
}

int uk_io_poll(const uk_poll_item *pairs, size_t npairs, int64_t timeout_ns, uk_poll_item *out, size_t outcap,
               size_t *nout) {
    static int64_t flat[2 * UK_MAX_POLL_ITEMS];
    if ((pairs == NULL && npairs > 0) || (out == NULL && outcap > 0)) {
        return UK_E_ARG;
    }
    if (npairs > UK_MAX_POLL_ITEMS) {
        return UK_ERR_TOOBIG; /* what the kernel answers (§11), decided here without a round trip */
    }
    for (size_t i = 0; i < npairs; i++) {
        flat[2 * i] = pairs[i].handle;
        flat[2 * i + 1] = pairs[i].events;
    }
    uk_value args[2] = {uk_i64s(flat, 2 * npairs), uk_i64(timeout_ns)};
    uk_value res[1];
    int rc = call_sig(UK_CALL_IO_POLL, args, 2, "S", res);
    if (rc != UK_OK) {
        return rc;
    }
    /* One (handle, events) entry per ready pair: an even count, never more entries than pairs asked. */
    if (res[0].n % 2 != 0 || res[0].n / 2 > npairs) {
        return fail(UK_E_PROTO);
    }
    size_t ready = res[0].n / 2;
    size_t k = ready < outcap ? ready : outcap;
    for (size_t i = 0; i < k; i++) {
        out[i].handle = uk_value_i64s_at(&res[0], 2 * i);
        out[i].events = uk_value_i64s_at(&res[0], 2 * i + 1);
    }
    if (nout != NULL) {
        *nout = ready;
    }
    return k < ready ? UK_E_TRUNC : UK_OK;
}

/* ---- net, ABI 1.1 direct sockets ------------------------------------------------------------------------- */

int uk_net_connect_direct(int64_t family, const char *host, int64_t port, int64_t *handle, int *fd) {
    if (host == NULL || handle == NULL || fd == NULL) {
        return UK_E_ARG;
    }
    uk_value out[1];
    uk_value args[3] = {uk_i64(family), uk_i64(UK_NET_SOCK_STREAM | UK_NET_DIRECT), uk_i64(0)};
    int rc = call_sig(UK_CALL_NET_SOCKET, args, 2, "I", out);
    if (rc != UK_OK) {
        return rc;
    }
    int64_t h = out[0].i64;
    args[0] = uk_i64(h);
    args[1] = uk_bytes(host, strlen(host));
    args[2] = uk_i64(port);
    rc = call_sig(UK_CALL_NET_CONNECT, args, 3, "", NULL);
    int granted = uk_take_granted_fd();
    if (rc == UK_OK && granted < 0) {
        rc = UK_E_PROTO; /* a kernel before ABI 1.1 connected it the buffered way */
    }
    if (rc != UK_OK) {
        if (g_fd >= 0) {
            uk_handle_close(h);
        }
        return rc;
    }
    *handle = h;
    *fd = granted;
    return UK_OK;
}

/* ---- names -------------------------------------------------------------------------------------------- */

const char *uk_strerror(int64_t code) {
    static const char *const status_names[] = {
        "UK_OK",          "UK_ERR_UNSUPPORTED", "UK_ERR_DENIED",   "UK_ERR_BADHANDLE", "UK_ERR_INVAL",
        "UK_ERR_WOULDBLOCK", "UK_ERR_INPROGRESS", "UK_ERR_CLOSED", "UK_ERR_LIMIT",     "UK_ERR_NOTFOUND",
        "UK_ERR_TIMEOUT", "UK_ERR_IO",          "UK_ERR_REFUSED",  "UK_ERR_ADDRINUSE", "UK_ERR_TOOBIG",
        "UK_ERR_BUSY",
    };
    _Static_assert(sizeof status_names / sizeof status_names[0] == UK_ERR_BUSY + 1, "one name per status");
    if (code >= 0 && code <= UK_ERR_BUSY) {
        return status_names[code];
    }
    if (code < 0 && -code <= UK_ERR_BUSY) {
        return status_names[-code]; /* uk_connect's -status */
    }
    switch (code) {
    case UK_E_ENV:
        return "UK_E_ENV";
    case UK_E_CONNECT:
        return "UK_E_CONNECT";
    case UK_E_IO:
        return "UK_E_IO";
    case UK_E_EOF:
        return "UK_E_EOF";
    case UK_E_PROTO:
        return "UK_E_PROTO";
    case UK_E_ARG:
        return "UK_E_ARG";
    case UK_E_NOTCONN:
        return "UK_E_NOTCONN";
    case UK_E_FRAME:
        return "UK_E_FRAME";
    case UK_E_TRUNC:
        return "UK_E_TRUNC";
    default:
        return "unknown";
    }
}
