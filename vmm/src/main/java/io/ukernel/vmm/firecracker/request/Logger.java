package io.ukernel.vmm.firecracker.request;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code PUT /logger} (swagger {@code Logger}): where Firecracker writes its own log. The file must exist.
 *
 * @param logPath   the log file or named pipe
 * @param level     {@code Error}, {@code Warning}, {@code Info}, {@code Debug}, {@code Trace} or {@code Off}
 * @param showLevel whether lines carry their level
 */
public record Logger(String logPath, String level, boolean showLevel) implements FirecrackerRequest {
    @Override
    public String path() {
        return "/logger";
    }

    @Override
    public Map<String, Object> body() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("log_path", logPath);
        m.put("level", level);
        m.put("show_level", showLevel);
        m.put("show_log_origin", false);
        return m;
    }
}
