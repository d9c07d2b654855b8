"""The ABI's flag and code sets as enums, built from the generated constants (imported on first use)."""

import enum

from . import _abi

__all__ = ["Cap", "Status", "LogLevel", "Event", "OpenFlag", "Whence", "TaskState", "StatKind"]

Cap = enum.IntFlag("Cap", [(name, bit) for bit, name in sorted(_abi.CAP_NAMES.items())], module="ukernel",
                   qualname="Cap")
Cap.__doc__ = "Capability bits: a task's active set and ceiling are combinations of these (``Cap.LOG | Cap.NET``)."

Status = enum.IntEnum("Status", [(name, code) for code, name in sorted(_abi.STATUS_NAMES.items())],
                      module="ukernel", qualname="Status")
Status.__doc__ = "Status codes of kernel replies; every one but ``OK`` is raised as a ``ukernel.KernelError``."

LogLevel = enum.IntEnum("LogLevel", [
    ("DEBUG", _abi.LOG_DEBUG),
    ("INFO", _abi.LOG_INFO),
    ("WARN", _abi.LOG_WARN),
    ("WARNING", _abi.LOG_WARN),  # alias, as in logging
    ("ERROR", _abi.LOG_ERROR),
], module="ukernel", qualname="LogLevel")
LogLevel.__doc__ = "Console log levels; the numbers are Python logging's (CRITICAL is written as ERROR)."


def _from_prefix(prefix):
    return [(name[len(prefix):], value) for name, value in vars(_abi).items()
            if name.startswith(prefix) and isinstance(value, int)]


Event = enum.IntFlag("Event", _from_prefix("EV_"), module="ukernel", qualname="Event")
Event.__doc__ = ("Readiness bits of ``io_poll``: an interest is a combination (``Event.READABLE | Event.WRITABLE``); "
                 "``HANGUP`` and ``ERROR`` are reported even when not asked for.")

OpenFlag = enum.IntFlag("OpenFlag", _from_prefix("OPEN_"), module="ukernel", qualname="OpenFlag")
OpenFlag.__doc__ = ("``io_open`` flags: ``READ`` and/or ``WRITE``, plus ``CREATE``, ``TRUNCATE``, ``APPEND``, "
                    "``EXCLUSIVE`` (which need ``WRITE`` and an ``rw`` preopen).")

Whence = enum.IntEnum("Whence", _from_prefix("SEEK_"), module="ukernel", qualname="Whence")
Whence.__doc__ = "``io_seek`` origins (the same numbers as ``os.SEEK_SET``, ``os.SEEK_CUR``, ``os.SEEK_END``)."

TaskState = enum.IntEnum("TaskState", _from_prefix("TASK_"), module="ukernel", qualname="TaskState")
TaskState.__doc__ = "The state ``task_status`` reports: ``RUNNING`` or ``EXITED``."

StatKind = enum.IntEnum("StatKind", _from_prefix("STAT_"), module="ukernel", qualname="StatKind")
StatKind.__doc__ = "The kind ``io_stat`` reports: ``FILE``, ``DIRECTORY`` or ``OTHER``."
