"""The ABI's flag and code sets as enums, built from the generated constants (imported on first use)."""

import enum

from . import _abi

__all__ = ["Cap", "Status", "LogLevel"]

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
