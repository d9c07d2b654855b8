"""Echo server task: listens on 127.0.0.1:0, tells the client task its port over the channel it was given,
accepts one connection and echoes every byte until EOF."""

import os

import ukernel


def wait(client, h, events):
    client.io_poll([(h, events)], -1)


def main():
    ukernel.cap_acquire("LOG|IPC|NET")
    client = ukernel.client()
    channel = int(os.environ["UKERNEL_HANDLES"].split(",")[0])
    lst = client.net_socket()
    client.net_bind(lst, "127.0.0.1", 0)
    client.net_listen(lst, 8)
    _, port = client.net_addr(lst, ukernel.NET_ADDR_LOCAL)
    client.ipc_send(channel, str(port).encode())
    wait(client, lst, ukernel.EV_READABLE)
    conn, _, _ = client.net_accept(lst)
    while True:
        try:
            data = client.net_recv(conn, 65536)
        except BlockingIOError:
            wait(client, conn, ukernel.EV_READABLE)
            continue
        if not data:
            return 0
        while data:
            try:
                data = data[client.net_send(conn, data):]
            except BlockingIOError:
                wait(client, conn, ukernel.EV_WRITABLE)
