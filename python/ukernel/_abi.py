"""ukernel ABI v1.3 constants. Generated from the io.ukernel.abi enums by scripts/gen-abi. Do not edit."""

# fmt: off
VERSION_MAJOR = 1
VERSION_MINOR = 3
VERSION = (VERSION_MAJOR << 16) | VERSION_MINOR

MAX_FRAME_BYTES = 1048576
MAX_VALUES = 64
REQUEST_HEADER_BYTES = 12
REPLY_HEADER_BYTES = 12
MAX_MSG_HANDLES = 64
MAX_MSG_BYTES = 65536
MAX_BATCH_MSGS = 1024
MAX_BATCH_BYTES = 524288
MAX_BATCH_HANDLES = 1024
MAX_POLL_ITEMS = 1024
MAX_PARKED_CALLS = 64
MAX_LOG_BYTES = 16384
REPLY_GRANTED = 0x8000
TOKEN_BYTES = 16
ENV_ENDPOINT = "UKERNEL_ENDPOINT"
ENV_TOKEN = "UKERNEL_TOKEN"
ENV_HANDLES = "UKERNEL_HANDLES"
REPORT_CONFINED = "ukernel: confined: "
REPORT_UNCONFINED = "ukernel: unconfined: "

TAG_I64 = 1
TAG_BYTES = 2
TAG_I64S = 3

# Status codes
OK = 0
ERR_UNSUPPORTED = 1
ERR_DENIED = 2
ERR_BADHANDLE = 3
ERR_INVAL = 4
ERR_WOULDBLOCK = 5
ERR_INPROGRESS = 6
ERR_CLOSED = 7
ERR_LIMIT = 8
ERR_NOTFOUND = 9
ERR_TIMEOUT = 10
ERR_IO = 11
ERR_REFUSED = 12
ERR_ADDRINUSE = 13
ERR_TOOBIG = 14
ERR_BUSY = 15

# Capability bits
CAP_LOG = 1
CAP_TIME = 2
CAP_TASK = 4
CAP_IPC = 8
CAP_NET = 16
CAP_IO = 32

# Poll event bits
EV_READABLE = 1
EV_WRITABLE = 2
EV_HANGUP = 4
EV_ERROR = 8

# Log levels
LOG_DEBUG = 10
LOG_INFO = 20
LOG_WARN = 30
LOG_ERROR = 40

# io_open flags
OPEN_READ = 1
OPEN_WRITE = 2
OPEN_CREATE = 4
OPEN_TRUNCATE = 8
OPEN_APPEND = 16
OPEN_EXCLUSIVE = 32

# io_seek origins
SEEK_SET = 0
SEEK_CUR = 1
SEEK_END = 2

# Net constants
NET_AF_INET = 4
NET_AF_INET6 = 6
NET_SOCK_STREAM = 1
NET_SOCK_DGRAM = 2
NET_SHUT_RD = 1
NET_SHUT_WR = 2
NET_SHUT_RDWR = 3
NET_ADDR_LOCAL = 0
NET_ADDR_PEER = 1
NET_DIRECT = 256

# task_status states
TASK_RUNNING = 0
TASK_EXITED = 1

# io_stat kinds
STAT_FILE = 1
STAT_DIRECTORY = 2
STAT_OTHER = 3

# Call numbers
CALL_HELLO = 0
CALL_ABI_VERSION = 1
CALL_CAP_ACQUIRE = 2
CALL_CAP_DROP = 3
CALL_CAP_QUERY = 4
CALL_HANDLE_CLOSE = 5
CALL_SANDBOX_NOTIFY = 6
CALL_LOG_WRITE = 16
CALL_TIME_MONOTONIC_NS = 32
CALL_TIME_WALL_NS = 33
CALL_TASK_SELF = 48
CALL_TASK_YIELD = 49
CALL_TASK_SPAWN = 50
CALL_TASK_EXIT = 51
CALL_TASK_STATUS = 52
CALL_IPC_CHANNEL_CREATE = 64
CALL_IPC_SEND = 65
CALL_IPC_RECV = 66
CALL_IPC_CLOSE = 67
CALL_IPC_SEND_MANY = 68
CALL_IPC_RECV_MANY = 69
CALL_NET_SOCKET = 80
CALL_NET_BIND = 81
CALL_NET_LISTEN = 82
CALL_NET_ACCEPT = 83
CALL_NET_CONNECT = 84
CALL_NET_SEND = 85
CALL_NET_RECV = 86
CALL_NET_SHUTDOWN = 87
CALL_NET_CLOSE = 88
CALL_NET_ADDR = 89
CALL_NET_ERROR = 90
CALL_NET_SENDTO = 91
CALL_NET_RECVFROM = 92
CALL_IO_OPEN = 96
CALL_IO_READ = 97
CALL_IO_WRITE = 98
CALL_IO_SEEK = 99
CALL_IO_STAT = 100
CALL_IO_CLOSE = 101
CALL_IO_POLL = 112

STATUS_NAMES = {
    0: "OK",
    1: "ERR_UNSUPPORTED",
    2: "ERR_DENIED",
    3: "ERR_BADHANDLE",
    4: "ERR_INVAL",
    5: "ERR_WOULDBLOCK",
    6: "ERR_INPROGRESS",
    7: "ERR_CLOSED",
    8: "ERR_LIMIT",
    9: "ERR_NOTFOUND",
    10: "ERR_TIMEOUT",
    11: "ERR_IO",
    12: "ERR_REFUSED",
    13: "ERR_ADDRINUSE",
    14: "ERR_TOOBIG",
    15: "ERR_BUSY",
}

CAP_NAMES = {
    1: "LOG",
    2: "TIME",
    4: "TASK",
    8: "IPC",
    16: "NET",
    32: "IO",
}

# name: (number, capability bit or 0, argument tags, result tags, reserved)
CALLS = {
    "hello": (0, 0, (2, 1), (1, 1), False),
    "abi_version": (1, 0, (), (1,), False),
    "cap_acquire": (2, 0, (1,), (1,), False),
    "cap_drop": (3, 0, (1,), (1,), False),
    "cap_query": (4, 0, (), (1, 1), False),
    "handle_close": (5, 0, (1,), (), False),
    "sandbox_notify": (6, 0, (1,), (), False),
    "log_write": (16, 1, (1, 2), (), False),
    "time_monotonic_ns": (32, 2, (), (1,), False),
    "time_wall_ns": (33, 2, (), (1,), False),
    "task_self": (48, 0, (), (1, 2), False),
    "task_yield": (49, 0, (), (), False),
    "task_spawn": (50, 4, (2, 1, 3), (1,), False),
    "task_exit": (51, 0, (1,), (), False),
    "task_status": (52, 4, (1,), (1, 1), False),
    "ipc_channel_create": (64, 8, (), (1, 1), False),
    "ipc_send": (65, 8, (1, 2, 3), (), False),
    "ipc_recv": (66, 8, (1,), (2, 3), False),
    "ipc_close": (67, 8, (1,), (), False),
    "ipc_send_many": (68, 8, (1, 2, 3, 3, 3), (1,), False),
    "ipc_recv_many": (69, 8, (1, 1, 1), (2, 3, 3, 3), False),
    "net_socket": (80, 16, (1, 1), (1,), False),
    "net_bind": (81, 16, (1, 2, 1), (), False),
    "net_listen": (82, 16, (1, 1), (), False),
    "net_accept": (83, 16, (1,), (1, 2, 1), False),
    "net_connect": (84, 16, (1, 2, 1), (), False),
    "net_send": (85, 16, (1, 2), (1,), False),
    "net_recv": (86, 16, (1, 1), (2,), False),
    "net_shutdown": (87, 16, (1, 1), (), False),
    "net_close": (88, 16, (1,), (), False),
    "net_addr": (89, 16, (1, 1), (2, 1), False),
    "net_error": (90, 16, (1,), (1,), False),
    "net_sendto": (91, 16, (1, 2, 2, 1), (1,), False),
    "net_recvfrom": (92, 16, (1, 1), (2, 2, 1), False),
    "io_open": (96, 32, (2, 2, 1), (1,), False),
    "io_read": (97, 32, (1, 1), (2,), False),
    "io_write": (98, 32, (1, 2), (1,), False),
    "io_seek": (99, 32, (1, 1, 1), (1,), False),
    "io_stat": (100, 32, (1,), (1, 1, 1), False),
    "io_close": (101, 32, (1,), (), False),
    "io_poll": (112, 0, (3, 1), (3,), False),
}
