/* ukernel ABI v1.3. Generated from the io.ukernel.abi enums by scripts/gen-abi. Do not edit. */
#ifndef UKERNEL_ABI_H
#define UKERNEL_ABI_H

#include <stdint.h>

#define UK_ABI_VERSION_MAJOR 1
#define UK_ABI_VERSION_MINOR 3
#define UK_ABI_VERSION ((UK_ABI_VERSION_MAJOR << 16) | UK_ABI_VERSION_MINOR)

/* Published limits */
#define UK_MAX_FRAME_BYTES 1048576
#define UK_MAX_VALUES 64
#define UK_REQUEST_HEADER_BYTES 12
#define UK_REPLY_HEADER_BYTES 12
#define UK_MAX_MSG_HANDLES 64
#define UK_MAX_MSG_BYTES 65536
#define UK_MAX_BATCH_MSGS 1024
#define UK_MAX_BATCH_BYTES 524288
#define UK_MAX_BATCH_HANDLES 1024
#define UK_MAX_POLL_ITEMS 1024
#define UK_MAX_PARKED_CALLS 64
#define UK_MAX_LOG_BYTES 16384
#define UK_REPLY_GRANTED 0x8000
#define UK_TOKEN_BYTES 16
#define UK_ENV_ENDPOINT "UKERNEL_ENDPOINT"
#define UK_ENV_TOKEN "UKERNEL_TOKEN"
#define UK_ENV_HANDLES "UKERNEL_HANDLES"

/* Value tags */
#define UK_TAG_I64 1
#define UK_TAG_BYTES 2
#define UK_TAG_I64S 3

/* Status codes */
#define UK_OK 0
#define UK_ERR_UNSUPPORTED 1
#define UK_ERR_DENIED 2
#define UK_ERR_BADHANDLE 3
#define UK_ERR_INVAL 4
#define UK_ERR_WOULDBLOCK 5
#define UK_ERR_INPROGRESS 6
#define UK_ERR_CLOSED 7
#define UK_ERR_LIMIT 8
#define UK_ERR_NOTFOUND 9
#define UK_ERR_TIMEOUT 10
#define UK_ERR_IO 11
#define UK_ERR_REFUSED 12
#define UK_ERR_ADDRINUSE 13
#define UK_ERR_TOOBIG 14
#define UK_ERR_BUSY 15

/* Capability bits */
#define UK_CAP_LOG 1
#define UK_CAP_TIME 2
#define UK_CAP_TASK 4
#define UK_CAP_IPC 8
#define UK_CAP_NET 16
#define UK_CAP_IO 32

/* Poll event bits */
#define UK_EV_READABLE 1
#define UK_EV_WRITABLE 2
#define UK_EV_HANGUP 4
#define UK_EV_ERROR 8

/* Log levels */
#define UK_LOG_DEBUG 10
#define UK_LOG_INFO 20
#define UK_LOG_WARN 30
#define UK_LOG_ERROR 40

/* io_open flags */
#define UK_OPEN_READ 1
#define UK_OPEN_WRITE 2
#define UK_OPEN_CREATE 4
#define UK_OPEN_TRUNCATE 8
#define UK_OPEN_APPEND 16
#define UK_OPEN_EXCLUSIVE 32

/* io_seek origins */
#define UK_SEEK_SET 0
#define UK_SEEK_CUR 1
#define UK_SEEK_END 2

/* Net constants */
#define UK_NET_AF_INET 4
#define UK_NET_AF_INET6 6
#define UK_NET_SOCK_STREAM 1
#define UK_NET_SOCK_DGRAM 2
#define UK_NET_SHUT_RD 1
#define UK_NET_SHUT_WR 2
#define UK_NET_SHUT_RDWR 3
#define UK_NET_ADDR_LOCAL 0
#define UK_NET_ADDR_PEER 1
#define UK_NET_DIRECT 256

/* task_status states */
#define UK_TASK_RUNNING 0
#define UK_TASK_EXITED 1

/* io_stat kinds */
#define UK_STAT_FILE 1
#define UK_STAT_DIRECTORY 2
#define UK_STAT_OTHER 3

/* Call numbers */
#define UK_CALL_HELLO 0 /* [BYTES, I64] -> [I64, I64] */
#define UK_CALL_ABI_VERSION 1 /* [] -> [I64] */
#define UK_CALL_CAP_ACQUIRE 2 /* [I64] -> [I64] */
#define UK_CALL_CAP_DROP 3 /* [I64] -> [I64] */
#define UK_CALL_CAP_QUERY 4 /* [] -> [I64, I64] */
#define UK_CALL_HANDLE_CLOSE 5 /* [I64] -> [] */
#define UK_CALL_SANDBOX_NOTIFY 6 /* [I64] -> [] */
#define UK_CALL_LOG_WRITE 16 /* [I64, BYTES] -> [], needs LOG */
#define UK_CALL_TIME_MONOTONIC_NS 32 /* [] -> [I64], needs TIME */
#define UK_CALL_TIME_WALL_NS 33 /* [] -> [I64], needs TIME */
#define UK_CALL_TASK_SELF 48 /* [] -> [I64, BYTES] */
#define UK_CALL_TASK_YIELD 49 /* [] -> [] */
#define UK_CALL_TASK_SPAWN 50 /* [BYTES, I64, I64S] -> [I64], needs TASK */
#define UK_CALL_TASK_EXIT 51 /* [I64] -> [] */
#define UK_CALL_TASK_STATUS 52 /* [I64] -> [I64, I64], needs TASK */
#define UK_CALL_IPC_CHANNEL_CREATE 64 /* [] -> [I64, I64], needs IPC */
#define UK_CALL_IPC_SEND 65 /* [I64, BYTES, I64S] -> [], needs IPC */
#define UK_CALL_IPC_RECV 66 /* [I64] -> [BYTES, I64S], needs IPC */
#define UK_CALL_IPC_CLOSE 67 /* [I64] -> [], needs IPC */
#define UK_CALL_IPC_SEND_MANY 68 /* [I64, BYTES, I64S, I64S, I64S] -> [I64], needs IPC */
#define UK_CALL_IPC_RECV_MANY 69 /* [I64, I64, I64] -> [BYTES, I64S, I64S, I64S], needs IPC */
#define UK_CALL_NET_SOCKET 80 /* [I64, I64] -> [I64], needs NET */
#define UK_CALL_NET_BIND 81 /* [I64, BYTES, I64] -> [], needs NET */
#define UK_CALL_NET_LISTEN 82 /* [I64, I64] -> [], needs NET */
#define UK_CALL_NET_ACCEPT 83 /* [I64] -> [I64, BYTES, I64], needs NET */
#define UK_CALL_NET_CONNECT 84 /* [I64, BYTES, I64] -> [], needs NET */
#define UK_CALL_NET_SEND 85 /* [I64, BYTES] -> [I64], needs NET */
#define UK_CALL_NET_RECV 86 /* [I64, I64] -> [BYTES], needs NET */
#define UK_CALL_NET_SHUTDOWN 87 /* [I64, I64] -> [], needs NET */
#define UK_CALL_NET_CLOSE 88 /* [I64] -> [], needs NET */
#define UK_CALL_NET_ADDR 89 /* [I64, I64] -> [BYTES, I64], needs NET */
#define UK_CALL_NET_ERROR 90 /* [I64] -> [I64], needs NET */
#define UK_CALL_NET_SENDTO 91 /* [I64, BYTES, BYTES, I64] -> [I64], needs NET */
#define UK_CALL_NET_RECVFROM 92 /* [I64, I64] -> [BYTES, BYTES, I64], needs NET */
#define UK_CALL_IO_OPEN 96 /* [BYTES, BYTES, I64] -> [I64], needs IO */
#define UK_CALL_IO_READ 97 /* [I64, I64] -> [BYTES], needs IO */
#define UK_CALL_IO_WRITE 98 /* [I64, BYTES] -> [I64], needs IO */
#define UK_CALL_IO_SEEK 99 /* [I64, I64, I64] -> [I64], needs IO */
#define UK_CALL_IO_STAT 100 /* [I64] -> [I64, I64, I64], needs IO */
#define UK_CALL_IO_CLOSE 101 /* [I64] -> [], needs IO */
#define UK_CALL_IO_POLL 112 /* [I64S, I64] -> [I64S] */

/* Wire headers: these structs document the byte offsets of a frame's header. On the wire every
 * integer is little-endian; portable code reads and writes the bytes with explicit byte-order
 * helpers (as clients/c does) rather than overlaying these structs (packed is a GCC/Clang
 * extension, and the fields are in host order). */
typedef struct uk_request_header {
    uint32_t length;
    uint32_t seq;
    uint16_t call;
    uint16_t argc;
} __attribute__((packed)) uk_request_header;

typedef struct uk_reply_header {
    uint32_t length;
    uint32_t seq;
    uint16_t status;
    uint16_t count;
} __attribute__((packed)) uk_reply_header;

_Static_assert(sizeof(uk_request_header) == UK_REQUEST_HEADER_BYTES, "request header");
_Static_assert(sizeof(uk_reply_header) == UK_REPLY_HEADER_BYTES, "reply header");

#endif /* UKERNEL_ABI_H */
