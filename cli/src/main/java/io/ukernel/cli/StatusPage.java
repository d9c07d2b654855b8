package io.ukernel.cli;

import io.ukernel.kernel.Kernel;
import io.ukernel.kernel.Version;
import java.util.Map;

/**
 * The host's status page ({@code GET /}): apps, their tasks, states and restarts, rendered by the host (so the
 * page is complete without script), then refreshed every second by polling {@code /apps}, with the live tail of
 * one app's log from {@code /apps/NAME/logs?tail=20}.
 */
final class StatusPage {
    private StatusPage() {}

    static String html(Host host, HostApi api) {
        StringBuilder rows = new StringBuilder();
        for (Host.App a : host.apps()) {
            Map<String, Object> j = HostApi.appJson(a);
            StringBuilder tasks = new StringBuilder();
            for (Kernel.TaskInfo t : a.tasks()) {
                tasks.append(esc(t.name())).append('#').append(t.id()).append(' ').append(esc(t.state()))
                        .append(t.restarts() > 0 ? " (" + t.restarts() + " restarts)" : "").append("<br>");
            }
            rows.append("<tr class=\"app\" data-name=\"").append(esc(a.name)).append("\"><td>").append(esc(a.name))
                    .append("</td><td>").append(esc(String.valueOf(j.get("status")))).append("</td><td>")
                    .append(PsCommand.uptimeSeconds((Long) j.get("uptime_s"))).append("</td><td>")
                    .append(tasks).append("</td><td>").append(j.get("restarts")).append("</td><td>")
                    .append(PsCommand.cpu((Long) j.get("cpu_ms"))).append("</td><td>")
                    .append(PsCommand.mem((Long) j.get("rss_bytes"))).append("</td></tr>\n");
        }
        if (rows.isEmpty()) {
            rows.append("<tr><td colspan=\"7\">No apps: ukernel run -d DIR starts one.</td></tr>\n");
        }
        return PAGE.replace("@VERSION@", esc(Version.UKERNEL))
                .replace("@PID@", Long.toString(ProcessHandle.current().pid()))
                .replace("@ROWS@", rows);
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    private static final String PAGE = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>ukernel host</title>
            <style>
            body { font: 14px system-ui, sans-serif; margin: 24px; background: #fafafa; color: #222; }
            h1 { font-size: 20px; margin: 0 0 4px; } .sub { color: #666; margin-bottom: 16px; }
            table { border-collapse: collapse; background: #fff; min-width: 720px; }
            th, td { border: 1px solid #ddd; padding: 6px 10px; text-align: left; vertical-align: top; }
            th { background: #2d4a7a; color: #fff; } tr.app { cursor: pointer; } tr.app:hover { background: #eef3fb; }
            pre { background: #111; color: #ddd; padding: 10px; min-height: 120px; overflow: auto; max-width: 1100px; }
            </style></head>
            <body>
            <h1>ukernel host</h1>
            <div class="sub">ukernel @VERSION@ · pid @PID@ · <a href="/metrics">metrics</a></div>
            <table><thead><tr><th>NAME</th><th>STATUS</th><th>UPTIME</th><th>TASKS</th><th>RESTARTS</th><th>CPU</th><th>MEM</th></tr></thead>
            <tbody id="apps">
            @ROWS@</tbody></table>
            <h2 style="font-size:16px">Log <span id="logname"></span></h2>
            <pre id="log">(click an app)</pre>
            <script>
            let selected = null;
            const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
            const cpu = ms => (ms / 1000).toFixed(2) + 's';
            const mem = b => b >= 1048576 ? (b / 1048576).toFixed(1) + 'MiB' : Math.round(b / 1024) + 'KiB';
            const up = s => s < 60 ? s + 's' : s < 3600 ? Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's'
                : Math.floor(s / 3600) + 'h' + String(Math.floor(s / 60) % 60).padStart(2, '0') + 'm';
            function bind() {
              document.querySelectorAll('tr.app').forEach(r => r.onclick = () => { selected = r.dataset.name; poll(); });
              if (!selected) { const r = document.querySelector('tr.app'); if (r) selected = r.dataset.name; }
            }
            async function poll() {
              try {
                const apps = await (await fetch('/apps')).json();
                document.getElementById('apps').innerHTML = apps.length ? apps.map(a =>
                  '<tr class="app" data-name="' + esc(a.name) + '"><td>' + esc(a.name) + '</td><td>' + esc(a.status) +
                  '</td><td>' + up(a.uptime_s) + '</td><td>' + a.tasks.map(t => esc(t.name) + '#' + t.id + ' ' + esc(t.state) +
                  (t.restarts ? ' (' + t.restarts + ' restarts)' : '')).join('<br>') + '</td><td>' + a.restarts +
                  '</td><td>' + cpu(a.cpu_ms) + '</td><td>' + mem(a.rss_bytes) + '</td></tr>').join('')
                  : '<tr><td colspan="7">No apps: ukernel run -d DIR starts one.</td></tr>';
                bind();
                if (selected) {
                  document.getElementById('logname').textContent = selected;
                  const text = await (await fetch('/apps/' + encodeURIComponent(selected) + '/logs?tail=20')).text();
                  document.getElementById('log').textContent = text;
                }
              } catch (e) { document.getElementById('logname').textContent = '(host unreachable: ' + e + ')'; }
            }
            bind(); poll(); setInterval(poll, 1000);
            </script>
            </body></html>
            """;
}
