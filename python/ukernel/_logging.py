"""``LogHandler``: Python ``logging`` records to the kernel console (imported on first use of the name)."""

import logging

__all__ = ["LogHandler"]


class LogHandler(logging.Handler):
    """A ``logging.Handler`` that writes each record to the kernel console with ``log_write``.

    The kernel prefixes every line with the time, the task and the level, so the default format is the bare
    message. A record of several lines (a traceback from ``logger.exception``) is written as one ``log_write`` per
    line, so each gets the prefix (the kernel shows a newline inside one message escaped, as ``\\n``, so that a
    message can never start a console line of its own). Level numbers pass through (``CRITICAL`` is written as
    ``ERROR``); a record the kernel refuses (``LOG`` not acquired, connection lost) goes through ``handleError``
    like any failing handler. The task needs the ``LOG`` capability: ``ukernel.cap_acquire(ukernel.Cap.LOG)``.

    ``client`` defaults to the process-wide client (``ukernel.client()``).
    """

    def __init__(self, level=logging.NOTSET, client=None):
        super().__init__(level)
        self._client = client

    def emit(self, record):
        try:
            message = self.format(record)
            client = self._client
            if client is None:
                from . import client as default_client

                client = default_client()
            if message.endswith("\n"):
                message = message[:-1]
            for line in message.split("\n"):
                client.log(line[:-1] if line.endswith("\r") else line, record.levelno)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
