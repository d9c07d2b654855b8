"""Granted sockets (ABI 1.1): the host descriptor of a direct TCP connection, as a real ``socket.socket``.

The kernel checked the connect (or accepted the connection), counts the socket in the task's handles and keeps its
own reference; the worker moves the bytes itself. Closing the socket closes the descriptor first and then the
kernel handle, without waiting for the reply: the kernel's reference would otherwise keep the connection open and
the peer would never see the end of the stream. The confinement filter keeps the descriptor to its one peer
(docs/confinement.md, "Granted sockets").
"""

import socket as _pysocket

__all__ = ["GrantedSocket"]


class GrantedSocket(_pysocket.socket):
    """A non-blocking ``socket.socket`` on a granted descriptor; ``handle`` is its kernel handle."""

    def __init__(self, client, handle, fd):
        super().__init__(fileno=fd)  # family, type and protocol are read from the descriptor
        self.setblocking(False)
        self.handle = handle
        self._ukernel_client = client

    def _real_close(self, _ss=_pysocket._socket.socket):
        try:
            _ss.close(self)
        finally:
            client, self._ukernel_client = self._ukernel_client, None
            if client is not None and not client.closed:
                client.post_close(self.handle)

    def detach(self):
        """Gives up the descriptor; the kernel handle stays open (close it with ``client.handle_close``)."""
        self._ukernel_client = None
        return super().detach()

    def __repr__(self):
        return super().__repr__()[:-1] + ", handle=%d>" % self.handle
