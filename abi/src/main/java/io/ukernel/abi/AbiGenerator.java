package io.ukernel.abi;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Emits {@code include/ukernel_abi.h} and {@code python/ukernel/_abi.py} from this package's enums. The
 * generated files are committed; {@code AbiGeneratorTest} fails when they drift from the enums, and
 * {@code scripts/gen-abi} rewrites them.
 */
public final class AbiGenerator {
    private static final String NOTICE = "Generated from the io.ukernel.abi enums by scripts/gen-abi. Do not edit.";

    /** A named group of constants, emitted together. */
    private record Group(String title, String prefix, List<? extends AbiConstant> members) {}

    private static final List<Group> GROUPS = List.of(
            new Group("Status codes", "", List.of(Status.values())),
            new Group("Capability bits", "", List.of(Cap.values())),
            new Group("Poll event bits", "", List.of(Event.values())),
            new Group("Log levels", "", List.of(LogLevel.values())),
            new Group("io_open flags", "", List.of(OpenFlag.values())),
            new Group("io_seek origins", "", List.of(Whence.values())),
            new Group("Net constants", "", List.of(NetConst.values())),
            new Group("task_status states", "", List.of(TaskState.values())),
            new Group("io_stat kinds", "", List.of(StatKind.values())),
            new Group("Call numbers", "call_", List.of(Call.values())));

    private AbiGenerator() {}

    /** The C header. */
    public static String cHeader() {
        StringBuilder s = new StringBuilder();
        s.append("/* ukernel ABI v").append(Abi.formatVersion(Abi.VERSION)).append(". ").append(NOTICE)
                .append(" */\n");
        s.append("#ifndef UKERNEL_ABI_H\n#define UKERNEL_ABI_H\n\n#include <stdint.h>\n\n");
        s.append("#define UK_ABI_VERSION_MAJOR ").append(Abi.VERSION_MAJOR).append('\n');
        s.append("#define UK_ABI_VERSION_MINOR ").append(Abi.VERSION_MINOR).append('\n');
        s.append("#define UK_ABI_VERSION ((UK_ABI_VERSION_MAJOR << 16) | UK_ABI_VERSION_MINOR)\n\n");
        s.append("/* Published limits */\n");
        for (String[] limit : limits()) {
            s.append("#define UK_").append(limit[0]).append(' ').append(limit[1]).append('\n');
        }
        s.append("#define UK_ENV_ENDPOINT \"").append(Abi.ENV_ENDPOINT).append("\"\n");
        s.append("#define UK_ENV_TOKEN \"").append(Abi.ENV_TOKEN).append("\"\n");
        s.append("#define UK_ENV_HANDLES \"").append(Abi.ENV_HANDLES).append("\"\n");
        s.append("\n/* Value tags */\n");
        for (ArgType t : ArgType.values()) {
            s.append("#define UK_TAG_").append(t.name()).append(' ').append(t.tag()).append('\n');
        }
        for (Group g : GROUPS) {
            s.append("\n/* ").append(g.title()).append(" */\n");
            for (AbiConstant c : g.members()) {
                s.append("#define UK_").append((g.prefix() + c.abiName()).toUpperCase(Locale.ROOT)).append(' ')
                        .append(cLiteral(c.value()));
                if (c instanceof Call call) {
                    s.append(" /* ").append(signature(call)).append(call.reserved() ? " (reserved)" : "")
                            .append(" */");
                }
                s.append('\n');
            }
        }
        s.append("\n/* Wire headers: these structs document the byte offsets of a frame's header. On the wire every\n"
                + " * integer is little-endian; portable code reads and writes the bytes with explicit byte-order\n"
                + " * helpers (as clients/c does) rather than overlaying these structs (packed is a GCC/Clang\n"
                + " * extension, and the fields are in host order). */\n");
        s.append("typedef struct uk_request_header {\n    uint32_t length;\n    uint32_t seq;\n"
                + "    uint16_t call;\n    uint16_t argc;\n} __attribute__((packed)) uk_request_header;\n\n");
        s.append("typedef struct uk_reply_header {\n    uint32_t length;\n    uint32_t seq;\n"
                + "    uint16_t status;\n    uint16_t count;\n} __attribute__((packed)) uk_reply_header;\n\n");
        s.append("_Static_assert(sizeof(uk_request_header) == UK_REQUEST_HEADER_BYTES, \"request header\");\n");
        s.append("_Static_assert(sizeof(uk_reply_header) == UK_REPLY_HEADER_BYTES, \"reply header\");\n");
        s.append("\n#endif /* UKERNEL_ABI_H */\n");
        return s.toString();
    }

    /** The Python constants module. */
    public static String pythonModule() {
        StringBuilder s = new StringBuilder();
        s.append("\"\"\"ukernel ABI v").append(Abi.formatVersion(Abi.VERSION)).append(" constants. ")
                .append(NOTICE).append("\"\"\"\n\n");
        s.append("# fmt: off\n");
        s.append("VERSION_MAJOR = ").append(Abi.VERSION_MAJOR).append('\n');
        s.append("VERSION_MINOR = ").append(Abi.VERSION_MINOR).append('\n');
        s.append("VERSION = (VERSION_MAJOR << 16) | VERSION_MINOR\n\n");
        for (String[] limit : limits()) {
            s.append(limit[0]).append(" = ").append(limit[1]).append('\n');
        }
        s.append("ENV_ENDPOINT = \"").append(Abi.ENV_ENDPOINT).append("\"\n");
        s.append("ENV_TOKEN = \"").append(Abi.ENV_TOKEN).append("\"\n");
        s.append("ENV_HANDLES = \"").append(Abi.ENV_HANDLES).append("\"\n");
        s.append("REPORT_CONFINED = \"").append(Abi.REPORT_CONFINED).append("\"\n");
        s.append("REPORT_UNCONFINED = \"").append(Abi.REPORT_UNCONFINED).append("\"\n\n");
        for (ArgType t : ArgType.values()) {
            s.append("TAG_").append(t.name()).append(" = ").append(t.tag()).append('\n');
        }
        for (Group g : GROUPS) {
            s.append("\n# ").append(g.title()).append('\n');
            for (AbiConstant c : g.members()) {
                s.append((g.prefix() + c.abiName()).toUpperCase(Locale.ROOT)).append(" = ").append(c.value()).append('\n');
            }
        }
        s.append("\nSTATUS_NAMES = {\n");
        for (Status st : Status.values()) {
            s.append("    ").append(st.code()).append(": \"").append(st.name()).append("\",\n");
        }
        s.append("}\n\nCAP_NAMES = {\n");
        for (Cap c : Cap.values()) {
            s.append("    ").append(c.bit()).append(": \"").append(c.name()).append("\",\n");
        }
        s.append("}\n\n# name: (number, capability bit or 0, argument tags, result tags, reserved)\nCALLS = {\n");
        for (Call c : Call.values()) {
            s.append("    \"").append(c.abiName()).append("\": (").append(c.number()).append(", ")
                    .append(c.cap() == null ? 0 : c.cap().bit()).append(", ").append(tags(c.args())).append(", ")
                    .append(tags(c.results())).append(", ").append(c.reserved() ? "True" : "False").append("),\n");
        }
        s.append("}\n");
        return s.toString();
    }

    private static List<String[]> limits() {
        return List.of(
                new String[] {"MAX_FRAME_BYTES", Integer.toString(Abi.MAX_FRAME_BYTES)},
                new String[] {"MAX_VALUES", Integer.toString(Abi.MAX_VALUES)},
                new String[] {"REQUEST_HEADER_BYTES", Integer.toString(Abi.REQUEST_HEADER_BYTES)},
                new String[] {"REPLY_HEADER_BYTES", Integer.toString(Abi.REPLY_HEADER_BYTES)},
                new String[] {"MAX_MSG_HANDLES", Integer.toString(Abi.MAX_MSG_HANDLES)},
                new String[] {"MAX_MSG_BYTES", Integer.toString(Abi.MAX_MSG_BYTES)},
                new String[] {"MAX_BATCH_MSGS", Integer.toString(Abi.MAX_BATCH_MSGS)},
                new String[] {"MAX_BATCH_BYTES", Integer.toString(Abi.MAX_BATCH_BYTES)},
                new String[] {"MAX_BATCH_HANDLES", Integer.toString(Abi.MAX_BATCH_HANDLES)},
                new String[] {"MAX_POLL_ITEMS", Integer.toString(Abi.MAX_POLL_ITEMS)},
                new String[] {"MAX_PARKED_CALLS", Integer.toString(Abi.MAX_PARKED_CALLS)},
                new String[] {"MAX_LOG_BYTES", Integer.toString(Abi.MAX_LOG_BYTES)},
                new String[] {"REPLY_GRANTED", "0x" + Integer.toHexString(Abi.REPLY_GRANTED)},
                new String[] {"TOKEN_BYTES", Integer.toString(Abi.TOKEN_BYTES)});
    }

    private static String tags(List<ArgType> types) {
        StringBuilder s = new StringBuilder("(");
        for (ArgType t : types) {
            s.append(t.tag()).append(", ");
        }
        if (types.size() > 1) {
            s.setLength(s.length() - 2);
        } else if (types.size() == 1) {
            s.setLength(s.length() - 1);
        }
        return s.append(')').toString();
    }

    private static String signature(Call c) {
        return c.args() + " -> " + c.results() + (c.cap() == null ? "" : ", needs " + c.cap().name());
    }

    private static String cLiteral(long v) {
        return v > Integer.MAX_VALUE ? v + "ULL" : Long.toString(v);
    }

    /** Where the generated files live, relative to the repository root. */
    public static final String C_HEADER_PATH = "include/ukernel_abi.h";

    /** Where the Python constants live, relative to the repository root. */
    public static final String PYTHON_PATH = "python/ukernel/_abi.py";

    /** Writes both files under the repository root given as the only argument. */
    public static void main(String[] args) throws IOException {
        Path root = Path.of(args.length > 0 ? args[0] : ".");
        write(root.resolve(C_HEADER_PATH), cHeader());
        write(root.resolve(PYTHON_PATH), pythonModule());
    }

    private static void write(Path path, String text) throws IOException {
        Files.createDirectories(path.getParent());
        Files.writeString(path, text, StandardCharsets.UTF_8);
        System.out.println("wrote " + path);
    }
}
