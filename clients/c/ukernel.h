/*
 * ukernel C client: the worker side of the kernel ABI (docs/kernel-abi.md) over include/ukernel_abi.h.
 *
 * Dependency-free C11 (plus POSIX sockets). One process holds one kernel connection (a task has exactly one);
 * the library keeps it in static state and is NOT thread-safe: serialise calls yourself.
 *
 * Error convention, for every function returning int:
 *   0                 UK_OK
 *   > 0               a kernel status UK_ERR_* from the reply (any code, known or not, is an error)
 *   < 0               a library / transport failure UK_E_* below (nothing reached the kernel, or the
 *                     connection is unusable, or a result did not fit the caller's buffer)
 * Results are written through out-parameters, only on UK_OK (or as documented for UK_E_TRUNC). Out-parameters
 * marked "may be NULL" are optional.
 *
 * uk_connect() is the exception: it returns the task id (> 0) or a negative value: -status when the kernel
 * refused the hello (e.g. -UK_ERR_DENIED), or a UK_E_* code.
 */
#ifndef UKERNEL_CLIENT_H
#define UKERNEL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "ukernel_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Library / transport errors. All are below -999, so they never collide with -status (uk_connect). */
#define UK_E_ENV (-1001)     /* UKERNEL_ENDPOINT / UKERNEL_TOKEN missing or malformed */
#define UK_E_CONNECT (-1002) /* socket() or connect() failed (errno is kept) */
#define UK_E_IO (-1003)      /* read or write on the connection failed (errno is kept); connection closed */
#define UK_E_EOF (-1004)     /* the kernel closed the connection; connection closed */
#define UK_E_PROTO (-1005)   /* malformed or unexpected reply (bad length, seq, tag, signature); connection closed */
#define UK_E_ARG (-1006)     /* bad argument on the client side (NULL, too many values, ...); nothing sent */
#define UK_E_NOTCONN (-1007) /* no connection: uk_connect() not called, or the connection was closed */
#define UK_E_FRAME (-1008)   /* the request would exceed UK_MAX_FRAME_BYTES; nothing sent */
#define UK_E_TRUNC (-1009)   /* the call succeeded but its result did not fit the caller's buffer (see each call) */

/* ---- generic values and frames ------------------------------------------------------------------------- */

/*
 * One wire value.
 *   UK_TAG_I64    i64
 *   UK_TAG_BYTES  bytes[0..n)
 *   UK_TAG_I64S   n elements. In a request: i64s[0..n) (host order). In a decoded reply: i64s is NULL and the
 *                 elements are the n * 8 little-endian bytes at `bytes`; read them with uk_value_i64s_at().
 * Decoded values point into the library's receive buffer: valid until the next call on the connection.
 */
typedef struct uk_value {
    uint8_t tag;
    size_t n; /* BYTES: byte count; I64S: element count (the encoder rejects more than the frame can hold) */
    int64_t i64;
    const uint8_t *bytes;
    const int64_t *i64s;
} uk_value;

uk_value uk_i64(int64_t v);
uk_value uk_bytes(const void *data, size_t n);
uk_value uk_i64s(const int64_t *v, size_t n);

/* Element i (< v->n) of a decoded I64S value. */
int64_t uk_value_i64s_at(const uk_value *v, size_t i);

/*
 * Encodes one request frame into out[0..cap). On UK_OK *len is the frame's size (length field included).
 * UK_E_ARG: argc > UK_MAX_VALUES, an unknown tag, a NULL pointer with n > 0, or cap too small.
 * UK_E_FRAME: the frame would exceed UK_MAX_FRAME_BYTES.
 */
int uk_encode_request(uint8_t *out, size_t cap, uint32_t seq, uint16_t call, const uk_value *args, size_t argc,
                      size_t *len);

/*
 * Decodes one whole reply frame in[0..len) (length field included, len == 4 + length). Every length is checked:
 * UK_E_PROTO when the length field disagrees with len, is < 8 or > UK_MAX_FRAME_BYTES, count > UK_MAX_VALUES,
 * a value runs past the end, bytes follow the last value, a tag is unknown, or a non-OK status carries values.
 * On UK_OK: *seq, *status, out[0..*count); the values point into `in`.
 * UK_E_TRUNC: the frame is well-formed but holds more than outcap values: *seq, *status and *count are set and
 * only out[0..outcap) is filled.
 */
int uk_decode_reply(const uint8_t *in, size_t len, uint32_t *seq, uint16_t *status, uk_value *out, size_t outcap,
                    size_t *count);

/* ---- connection ---------------------------------------------------------------------------------------- */

/*
 * Reads UKERNEL_ENDPOINT and UKERNEL_TOKEN, connects, sends hello(token, UK_ABI_VERSION) and reads the reply.
 * Returns the task id (> 0), -status if the kernel refused (the kernel then closes the connection), or UK_E_*.
 * On success removes both variables from the environment (ABI §2.1).
 */
int64_t uk_connect(void);

/* As uk_connect(), with the endpoint path and the 32-hex-character token given explicitly. */
int64_t uk_connect_to(const char *endpoint, const char *token_hex);

/*
 * A task's connection handed over by the process that made it (hello done): a program a worker runs with its
 * connection passed on (examples/c-worker: the task's Python entry runs the C program, listed in [caps] subprocess,
 * and waits). uk_connect() adopts it when UKERNEL_ENDPOINT/UKERNEL_TOKEN are absent and UKERNEL_CONNECTION_FD
 * names the descriptor. The program then speaks for that task, with its capabilities and scopes, confined as the
 * worker is; the handing process must make no call until the program is done. Returns the task id (> 0), -status,
 * or UK_E_*.
 */
#define UK_ENV_CONNECTION_FD "UKERNEL_CONNECTION_FD"
int64_t uk_adopt(int fd);

/* The kernel's ABI version from the hello reply (0 before uk_connect succeeded). */
int64_t uk_kernel_version(void);

/* The connection's socket descriptor, or -1. */
int uk_fd(void);

/* Closes the connection (the task can make no further calls). */
void uk_disconnect(void);

/*
 * Sends one request and waits for its reply (matched by seq). Returns the reply's status, or UK_E_*.
 * On UK_OK the reply's values are in out[0..*count) (outcap >= UK_MAX_VALUES always suffices), valid until the
 * next call; UK_E_TRUNC when the reply had more than outcap values (the call itself happened). A transport or
 * protocol failure (UK_E_IO, UK_E_EOF, UK_E_PROTO) closes the connection. Use this for the calls without a
 * typed wrapper (task_spawn, net_*, io_*).
 */
int uk_call(uint16_t call, const uk_value *args, size_t argc, uk_value *out, size_t outcap, size_t *count);

/* "UK_OK", "UK_ERR_DENIED", "UK_E_EOF", ... ("unknown" for anything else). */
const char *uk_strerror(int64_t code);

/* ---- typed calls ----------------------------------------------------------------------------------------- */

int uk_abi_version(int64_t *version);
int uk_cap_acquire(int64_t mask, int64_t *active);                /* active may be NULL */
int uk_cap_drop(int64_t mask, int64_t *active);                   /* active may be NULL */
int uk_cap_query(int64_t *active, int64_t *ceiling);              /* either may be NULL */
int uk_handle_close(int64_t handle);

int uk_log_write(int64_t level, const void *msg, size_t len);     /* level: UK_LOG_*; len <= UK_MAX_LOG_BYTES */
int uk_logf(int64_t level, const char *fmt, ...)                  /* formats into a UK_MAX_LOG_BYTES buffer */
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

int uk_time_monotonic_ns(int64_t *ns);
int uk_time_wall_ns(int64_t *ns);

/*
 * The task's id and name. name (may be NULL) receives the name NUL-terminated; *name_len (may be NULL) its full
 * length. UK_E_TRUNC when the name did not fit in cap - 1 bytes (the id and the truncated name are still set).
 */
int uk_task_self(int64_t *id, char *name, size_t cap, size_t *name_len);
int uk_task_yield(void);

/*
 * Ends the task: on the kernel's OK, closes the connection and exit(code)s the process (stdio is flushed), so it
 * does not return. Returns only on failure: UK_ERR_INVAL for a code outside 0-255, or UK_E_*.
 */
int uk_task_exit(int64_t code);

int uk_ipc_channel_create(int64_t *h0, int64_t *h1);
int uk_ipc_send(int64_t channel, const void *data, size_t len, const int64_t *handles, size_t nhandles);

/*
 * Takes the next message: its bytes into buf[0..cap) (*len = the message's length) and the handle numbers it
 * carried into handles[0..hcap) (*nhandles = how many it carried). The kernel has already dequeued the message
 * when it replies, so cap >= UK_MAX_MSG_BYTES and hcap >= UK_MAX_MSG_HANDLES never truncate. Otherwise, when the
 * message is longer than cap or carries more than hcap handles: UK_E_TRUNC, the bytes that fit are copied, *len
 * and *nhandles are the full sizes, and the handles that did not fit are closed (handle_close) so none leak.
 * len and nhandles may be NULL; buf may be NULL when cap is 0, handles when hcap is 0.
 */
int uk_ipc_recv(int64_t channel, void *buf, size_t cap, size_t *len, int64_t *handles, size_t hcap,
                size_t *nhandles);
int uk_ipc_close(int64_t channel);

/* One (handle, events) pair of io_poll: `events` is the interest going in, the ready events coming out. */
typedef struct uk_poll_item {
    int64_t handle;
    int64_t events;
} uk_poll_item;

/*
 * Waits until one of the npairs pairs is ready or timeout_ns passes (0: check once; < 0: no timeout). The ready
 * pairs go to out[0..outcap), in the order of `pairs`; *nout = how many were ready (0: the timeout passed).
 * outcap >= npairs never truncates; otherwise UK_E_TRUNC with the first outcap copied (readiness is
 * level-triggered, nothing is lost).
 */
int uk_io_poll(const uk_poll_item *pairs, size_t npairs, int64_t timeout_ns, uk_poll_item *out, size_t outcap,
               size_t *nout);

/*
 * ABI 1.1 granted descriptors (docs/kernel-abi.md §2.6). The connection is read with recvmsg; a reply marked
 * UK_REPLY_GRANTED brings one host descriptor, which uk_call keeps until uk_take_granted_fd() takes it (the caller
 * then owns it; an untaken one is closed by the next call). Descriptors no granted reply claims are closed.
 */
int uk_take_granted_fd(void);

/*
 * A direct TCP connection to host:port (family UK_NET_AF_INET or UK_NET_AF_INET6): net_socket with UK_NET_DIRECT,
 * then net_connect, which waits until the host connected. On UK_OK, *handle is the kernel's handle and *fd the
 * host descriptor (non-blocking) to send and receive on. Close both: close(fd), then uk_handle_close(handle) (the
 * kernel's reference keeps the connection open until then). On failure the handle is closed and nothing is
 * returned.
 */
int uk_net_connect_direct(int64_t family, const char *host, int64_t port, int64_t *handle, int *fd);

#ifdef __cplusplus
}
#endif

#endif /* UKERNEL_CLIENT_H */
