package io.ukernel.kernel.console;

import java.util.Locale;

/** How a console line is rendered: a readable prefix ({@code text}) or one JSON object per line ({@code json}). */
public enum LineFormat {
    /** {@code [    1.002341] main#1 INFO  heartbeat 1}: seconds since boot, task name#id, level. */
    TEXT {
        @Override
        public String render(ConsoleLine l) {
            long micros = l.monoNs() / 1_000;
            String time = String.format(Locale.ROOT, "[%5d.%06d]", micros / 1_000_000, micros % 1_000_000);
            return time + ' ' + Escape.text(l.task()) + '#' + l.taskId() + ' ' + pad(l.level().name())
                    + Escape.text(l.text());
        }
    },
    /** {@code {"t":1.002341,"wall_ms":...,"task":"main","tid":1,"level":"INFO","msg":"heartbeat 1"}}. */
    JSON {
        @Override
        public String render(ConsoleLine l) {
            StringBuilder s = new StringBuilder(64 + l.text().length());
            long micros = l.monoNs() / 1_000;
            s.append("{\"t\":").append(micros / 1_000_000).append('.')
                    .append(String.format(Locale.ROOT, "%06d", micros % 1_000_000));
            s.append(",\"wall_ms\":").append(l.wallMs());
            s.append(",\"task\":");
            quote(s, l.task());
            s.append(",\"tid\":").append(l.taskId());
            s.append(",\"level\":\"").append(l.level().name()).append('"');
            if (l.event() != null) {
                s.append(",\"event\":");
                quote(s, l.event());
            }
            s.append(",\"msg\":");
            quote(s, l.text());
            return s.append('}').toString();
        }
    };

    /** Renders one line, without the trailing newline. */
    public abstract String render(ConsoleLine line);

    private static String pad(String level) {
        return level.length() >= 5 ? level + ' ' : level + " ".repeat(6 - level.length());
    }

    static void quote(StringBuilder s, String text) {
        Escape.json(s, text);
    }

    /** Parses {@code text} or {@code json} (case-insensitive). */
    public static LineFormat parse(String name) {
        return valueOf(name.toUpperCase(Locale.ROOT));
    }
}
