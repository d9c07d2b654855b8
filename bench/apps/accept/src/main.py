"""Serves CONNS short-lived connections on 127.0.0.1:PORT, one at a time: read the request (up to a blank line),
write a small HTTP/1.0 response, close. MODE=direct accepts through a NET_DIRECT listener in the kernel (every
connection is accepted, counted and audited by the kernel; the bytes move on the granted descriptor); MODE=buffered
uses kernel sockets (every byte crosses the kernel). The floor (bench/floor/accept_floor.py) serves the same way
on host sockets."""

import os
import select

import ukernel

RESPONSE = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"


def serve_direct(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(4096)
        except BlockingIOError:
            select.select([sock], [], [], 60)
            continue
        if not chunk:
            break
        data += chunk
    sock.setblocking(True)
    sock.sendall(RESPONSE)
    sock.close()  # the descriptor, then the kernel handle (without waiting)


def serve_buffered(c, conn):
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = c.net_recv(conn, 4096)
        except BlockingIOError:
            ukernel.poll([(conn, ukernel.EV_READABLE)], timeout=60)
            continue
        if not chunk:
            break
        data += chunk
    view = RESPONSE
    while view:
        try:
            view = view[c.net_send(conn, view):]
        except BlockingIOError:
            ukernel.poll([(conn, ukernel.EV_WRITABLE)], timeout=60)
    c.net_close(conn)


def main():
    ukernel.cap_acquire("LOG", "NET")
    c = ukernel.client()
    port, conns = int(os.environ["PORT"]), int(os.environ["CONNS"])
    direct = os.environ.get("MODE", "direct") == "direct"
    server = c.net_socket(direct=direct)
    c.net_bind(server, "127.0.0.1", port)
    c.net_listen(server, 128)
    served = 0
    while served < conns:
        try:
            conn = c.net_accept(server)[0]
        except BlockingIOError:
            ukernel.poll([(server, ukernel.EV_READABLE)], timeout=60)
            continue
        if direct:
            serve_direct(conn)
        else:
            serve_buffered(c, conn)
        served += 1
    ukernel.info("RESULT accept served=%d" % served)
    return 0
