package io.ukernel.kernel.calls;

import io.ukernel.abi.LogLevel;
import io.ukernel.abi.Status;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.Level;
import java.nio.charset.StandardCharsets;

/**
 * {@code log_write}: one console line with the task's prefix, whatever the message holds (a newline or a control
 * character in it is shown escaped), within the task's console budget (a dropped line still answers OK: logging is
 * best-effort, and the console reports how many were dropped).
 */
final class LogCalls {
    /** Longest message accepted by {@code log_write}. */
    static final int MAX_MESSAGE_BYTES = io.ukernel.abi.Abi.MAX_LOG_BYTES;

    private final Console console;

    LogCalls(Console console) {
        this.console = console;
    }

    Outcome write(Task task, Args args) {
        LogLevel level = LogLevel.of(args.i64(0));
        if (level == null) {
            return Outcome.err(Status.ERR_INVAL, "log level " + args.i64(0) + " is not 10, 20, 30 or 40");
        }
        byte[] message = args.bytes(1);
        if (message.length > MAX_MESSAGE_BYTES) {
            return Outcome.err(Status.ERR_TOOBIG, "log message of " + message.length + " bytes exceeds "
                    + MAX_MESSAGE_BYTES);
        }
        String text = new String(message, StandardCharsets.UTF_8);
        if (text.endsWith("\n")) {
            text = text.substring(0, text.length() - 1);
        }
        console.output(task.name(), task.id(), Level.of(level), null, text);
        return Outcome.ok();
    }
}
