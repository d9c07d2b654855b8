"""A minimal kernel stand-in on a real Unix socket, for the loader tests.

It speaks the real wire format (``ukernel._wire``), checks the hello token, and answers the few calls a loader
test needs: ``hello``, ``task_exit``, ``log_write`` (with ``cap_acquire``/``cap_query`` so an app can get
``LOG``), ``abi_version``, ``task_self``, and ``io_poll`` as a timer (it holds no objects: nothing is ever ready,
so a poll answers an empty list when its timeout passes, which is what the event loop's ``asyncio.sleep`` needs).
Everything else is ``ERR_UNSUPPORTED``. The real Java kernel is
exercised by the Java end-to-end tests.
"""

import os
import shutil
import socket
import tempfile
import threading

from ukernel import _abi
from ukernel._wire import decode_request, encode_reply

_NAMES = {spec[0]: name for name, spec in _abi.CALLS.items()}


class FakeKernel:
    def __init__(self, task_id=1, task_name="main", ceiling=(1 << len(_abi.CAP_NAMES)) - 1):
        self.token = os.urandom(_abi.TOKEN_BYTES)
        self.task_id = task_id
        self.task_name = task_name
        self.ceiling = ceiling
        self.active = 0
        self.calls = []  # (name, values) of every request, in arrival order
        self.exit_codes = []
        self.logs = []  # (level, text)
        self._dir = tempfile.mkdtemp(prefix="ukfk")  # short: AF_UNIX paths are limited to ~107 bytes
        self.path = os.path.join(self._dir, "kernel.sock")
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def env(self, **extra):
        """The environment the kernel gives a worker."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            _abi.ENV_ENDPOINT: self.path,
            _abi.ENV_TOKEN: self.token.hex(),
            "UKERNEL_KERNEL_PID": str(os.getpid()),
        }
        env.update(extra)
        return env

    def close(self):
        self._server.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _serve(self):
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn):
        buf = bytearray()
        bound = False
        lock = threading.Lock()  # parked io_poll replies come from timer threads

        def send(data):
            with lock:
                try:
                    conn.sendall(data)
                except OSError:
                    pass

        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                out = []
                while True:
                    frame, used = decode_request(buf)
                    if frame is None:
                        break
                    del buf[:used]
                    seq, call, values = frame
                    name = _NAMES.get(call, str(call))
                    self.calls.append((name, values))
                    if not bound:
                        if name != "hello" or values[0] != self.token:
                            send(encode_reply(seq, _abi.ERR_DENIED))
                            return
                        bound = True
                        out.append(encode_reply(seq, _abi.OK, (self.task_id, _abi.VERSION)))
                        continue
                    if name == "io_poll" and len(values) == 2 and values[1] != 0:
                        if values[1] > 0:  # parked: answered (nothing ready) when the timeout passes
                            timer = threading.Timer(values[1] / 1e9, send, (encode_reply(seq, _abi.OK, ((),)),))
                            timer.daemon = True
                            timer.start()
                        continue
                    status, results = self._answer(name, values)
                    out.append(encode_reply(seq, status, results))
                    if name == "task_exit" and status == _abi.OK:
                        send(b"".join(out))
                        return  # the kernel closes the connection after task_exit
                if out:
                    send(b"".join(out))

    def _answer(self, name, values):
        if name == "task_exit":
            if not 0 <= values[0] <= 255:
                return _abi.ERR_INVAL, ()
            self.exit_codes.append(values[0])
            return _abi.OK, ()
        if name == "log_write":
            if not self.active & _abi.CAP_LOG:
                return _abi.ERR_DENIED, ()
            self.logs.append((values[0], values[1].decode("utf-8", "replace")))
            return _abi.OK, ()
        if name == "cap_acquire":
            if values[0] & ~self.ceiling:
                return _abi.ERR_DENIED, ()
            self.active |= values[0]
            return _abi.OK, (self.active,)
        if name == "cap_query":
            return _abi.OK, (self.active, self.ceiling)
        if name == "abi_version":
            return _abi.OK, (_abi.VERSION,)
        if name == "task_self":
            return _abi.OK, (self.task_id, self.task_name.encode())
        if name == "io_poll":
            return _abi.OK, ((),)  # timeout 0: nothing is ready
        return _abi.ERR_UNSUPPORTED, ()
