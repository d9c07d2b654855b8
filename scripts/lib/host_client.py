"""The launcher's fast path while the resident host is up: the commands that only talk to the host are one or two
HTTP requests on its Unix socket, no JVM (starting the JVM and picocli costs more than the request; docs/host.md).
The host resolves -e/--env-file exactly as `ukernel run` does (the bare -e KEYs' values are sent from this shell).
Exit status 3 means "not for the fast path" (an option this client does not know, no host answering, a foreground
run that `ps`/`stop` would have to show or stop, a name that is not the host's): the launcher then runs the JVM
CLI, which handles everything and starts the host when needed.

    python3 -I -S scripts/lib/host_client.py run -d [--name N] [--rm] [-e K[=V]]... [--env-file F]... [DIR]
    python3 -I -S scripts/lib/host_client.py ps [-a] [-q] [--json]
    python3 -I -S scripts/lib/host_client.py logs NAME [-n N] [-f]
    python3 -I -S scripts/lib/host_client.py stop NAME...|--all [--timeout S]
    python3 -I -S scripts/lib/host_client.py restart NAME [--timeout S]
    python3 -I -S scripts/lib/host_client.py rm [-f] NAME...
"""

import json
import os
import socket
import sys

FALLBACK = 3


def parse(argv):
    if not argv or argv[0] != "run":
        return None
    body = {"name": "", "rm": False, "debug": False, "insecure_no_sandbox": False, "grace": 5.0,
            "env_args": [], "env_files": [], "shell_env": {}}
    detach, dirs, i = False, [], 1
    with_value = {"--name": "name", "-e": "env", "--env": "env", "--env-file": "env_file", "--grace": "grace"}
    while i < len(argv):
        a = argv[i]
        opt, eq, inline = a.partition("=") if a.startswith("--") else (a, "", "")
        if a in ("-d", "--detach"):
            detach = True
        elif a == "--rm":
            body["rm"] = True
        elif a == "--debug":
            body["debug"] = True
        elif a == "--insecure-no-sandbox":
            body["insecure_no_sandbox"] = True
        elif opt in with_value:
            if eq:
                value = inline
            elif i + 1 < len(argv):
                i += 1
                value = argv[i]
            else:
                return None
            kind = with_value[opt]
            if kind == "name":
                body["name"] = value
            elif kind == "env":
                body["env_args"].append(value)
                if "=" not in value and value in os.environ:
                    body["shell_env"][value] = os.environ[value]
            elif kind == "env_file":
                body["env_files"].append(os.path.abspath(value))
            else:
                try:
                    body["grace"] = float(value)
                except ValueError:
                    return None
        elif a.startswith("-e") and len(a) > 2:      # -eKEY=VALUE
            body["env_args"].append(a[2:])
            if "=" not in a[2:] and a[2:] in os.environ:
                body["shell_env"][a[2:]] = os.environ[a[2:]]
        elif a.startswith("-"):
            return None                               # anything else: the JVM CLI explains it
        else:
            dirs.append(a)
        i += 1
    if not detach or len(dirs) > 1:
        return None
    body["dir"] = os.path.abspath(dirs[0] if dirs else ".")
    return body


def request(sock_path, body, method="POST", path="/apps"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    data = b"" if body is None else json.dumps(body).encode()
    s.sendall(method.encode() + b" " + path.encode() + b" HTTP/1.1\r\nHost: ukernel\r\nContent-Type: "
              b"application/json\r\nContent-Length: " + str(len(data)).encode() + b"\r\nConnection: close\r\n\r\n"
              + data)
    chunks = []
    while True:
        c = s.recv(65536)
        if not c:
            break
        chunks.append(c)
    s.close()
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


def home():
    return os.environ.get("UKERNEL_HOME") or os.path.join(os.path.expanduser("~"), ".ukernel")


def main(argv):
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    body = parse(argv)
    if body is None:
        return FALLBACK
    home = globals()["home"]()
    try:
        status, payload = request(os.path.join(home, "host.sock"), body)
    except OSError:
        return FALLBACK                               # no host answering: the JVM CLI starts one
    try:
        answer = json.loads(payload.decode("utf-8"))
    except ValueError:
        answer = {"message": payload.decode("utf-8", "replace")}
    if status == 201:
        print(answer["name"], flush=True)
        return 0
    print("ukernel: " + str(answer.get("message", answer)), file=sys.stderr, flush=True)
    return 1


class _Fallback(Exception):
    """This command is the JVM CLI's (see the module's docstring)."""


def _options(args, flags, valued):
    """(set flags, {option: value}, positionals); raises _Fallback for anything else, so the JVM CLI explains it."""
    seen, values, rest, i = set(), {}, [], 0
    while i < len(args):
        a = args[i]
        opt, eq, inline = a.partition("=") if a.startswith("--") else (a, "", "")
        if a in flags:
            seen.add(flags[a])
        elif opt in valued:
            if eq:
                values[valued[opt]] = inline
            elif i + 1 < len(args):
                i += 1
                values[valued[opt]] = args[i]
            else:
                raise _Fallback()
        elif a.startswith("-") and a != "-":
            raise _Fallback()
        else:
            rest.append(a)
        i += 1
    return seen, values, rest


def _call(method, path, body=None):
    """(status, decoded JSON or text) of one request; _Fallback when no host answers."""
    try:
        status, payload = request(os.path.join(home(), "host.sock"), body, method, path)
    except OSError:
        raise _Fallback() from None
    text = payload.decode("utf-8", "replace")
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def _fail(status, answer):
    message = answer.get("message", answer) if isinstance(answer, dict) else answer
    print("ukernel: " + str(message), file=sys.stderr, flush=True)
    return 1


def _foreground_runs():
    """Whether a foreground `ukernel run` may be registered (its file in the run directory): `ps` and `stop` then
    leave the work to the JVM CLI, which checks each such run's process."""
    d = os.environ.get("UKERNEL_RUN_DIR") or os.path.join(home(), "run")
    try:
        return any(n.endswith(".json") and n[:-5].isdigit() for n in os.listdir(d))
    except OSError:
        return False


def _quote(name):
    """The name as a path segment, or None for a name no app can have (the JVM CLI then says so)."""
    return name if name and name.isascii() and all(c.isalnum() or c in "-_." for c in name) else None


def _running_apps():
    status, apps = _call("GET", "/apps")
    if status != 200 or not isinstance(apps, list):
        raise _Fallback()
    return apps


def _uptime(s):
    if s < 60:
        return "%ds" % s
    if s < 3600:
        return "%dm%02ds" % (s // 60, s % 60)
    return "%dh%02dm" % (s // 3600, (s // 60) % 60)


def _mem(b):
    return "%.1fMiB" % (b / 1048576.0) if b >= 1 << 20 else "%dKiB" % (b // 1024)


def ps(args):
    seen, _, rest = _options(args, {"-a": "all", "--all": "all", "-q": "quiet", "--quiet": "quiet",
                                    "--json": "json"}, {})
    if rest or _foreground_runs():
        raise _Fallback()
    rows = []
    for a in _running_apps():
        if "all" in seen or a.get("running") is True:
            a["where"] = "host"
            rows.append(a)
    if "json" in seen:
        print(json.dumps(rows, separators=(",", ":")))
    elif "quiet" in seen:
        for r in rows:
            print(r["name"])
    elif not rows:
        print("No apps." if "all" in seen else "No apps running.")
    else:
        fmt = "%-16s %-13s %8s %5s %8s  %-18s %8s %9s  %s"   # PsCommand's table, column for column
        print(fmt % ("NAME", "STATUS", "UPTIME", "TASKS", "RESTARTS", "PORTS", "CPU", "MEM", "WHERE"))
        for r in rows:
            live = sum(1 for t in r.get("tasks", []) if t.get("state") != "exited")
            print(fmt % (r["name"], r["status"], _uptime(int(r["uptime_s"])), live, r["restarts"],
                         r.get("ports") or "-", "%.2fs" % (r["cpu_ms"] / 1000.0), _mem(int(r["rss_bytes"])), "host"))
    sys.stdout.flush()
    return 0


def _host_app(name):
    """The host's app of that name (a dict), or None."""
    q = _quote(name)
    if not q:
        raise _Fallback()
    status, answer = _call("GET", "/apps/" + q)
    return answer if status == 200 and isinstance(answer, dict) else None


def logs(args):
    _, values, rest = _options(args, {"-f": "follow", "--follow": "follow"}, {"-n": "lines", "--lines": "lines"})
    follow = "-f" in args or "--follow" in args
    if len(rest) != 1 or os.path.isdir(rest[0]):
        raise _Fallback()
    lines = values.get("lines")
    if lines is not None and (not lines.isdigit()):
        raise _Fallback()
    app = _host_app(rest[0])
    if app is None or not isinstance(app.get("log"), str):
        raise _Fallback()                             # a foreground run's, or none: the JVM CLI says which
    path = app["log"]
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise _Fallback() from None                   # the JVM CLI says "no logs yet" (and waits with -f)
    out = sys.stdout.buffer
    with f:
        data = f.read()
        if lines is not None:
            n = int(lines)
            body = data[:-1] if data.endswith(b"\n") else data
            parts = body.split(b"\n") if body else []
            data = b"".join(p + b"\n" for p in parts[len(parts) - n:]) if n else b""
        elif data and not data.endswith(b"\n") and not follow:
            data += b"\n"
        out.write(data)
        out.flush()
        if follow:
            return _follow(path, f, out)
    return 0


def _follow(path, f, out):
    """Prints what is appended to the log, from a new file when it was replaced or truncated, until Ctrl-C."""
    import time

    key = os.fstat(f.fileno())
    try:
        while True:
            chunk = f.read()
            if chunk:
                out.write(chunk)
                out.flush()
                continue
            try:
                st = os.stat(path)
            except FileNotFoundError:
                st = None
            if st is not None and ((st.st_dev, st.st_ino) != (key.st_dev, key.st_ino) or st.st_size < f.tell()):
                f.close()
                f = open(path, "rb")
                key = os.fstat(f.fileno())
                continue
            time.sleep(0.2)   # as LogsCommand polls: the file gives no event to wait on
    except KeyboardInterrupt:
        return 0
    finally:
        f.close()


def _timeout_ms(values):
    try:
        return int(float(values.get("timeout", "30")) * 1000)
    except ValueError:
        raise _Fallback() from None


def stop(args):
    seen, values, names = _options(args, {"-a": "all", "--all": "all"}, {"--timeout": "timeout"})
    timeout = _timeout_ms(values)
    if _foreground_runs() or (not names and "all" not in seen):
        raise _Fallback()
    running = [a["name"] for a in _running_apps() if a.get("running") is True]
    targets = names or running
    if any(n not in running or not _quote(n) for n in targets):
        raise _Fallback()                             # a pid, a name the host does not run: the JVM CLI's
    failures = 0
    if not targets:
        print("Nothing is running.")
    for name in targets:
        print("Stopping %s (host)..." % name, flush=True)
        status, answer = _call("POST", "/apps/%s/stop?timeout=%d" % (_quote(name), timeout), {})
        if status == 200:
            print("Stopped " + name, flush=True)
        else:
            print(answer.get("message", answer) if isinstance(answer, dict) else answer, flush=True)
            failures += 1
    return 0 if failures == 0 else 1


def restart(args):
    _, values, names = _options(args, {}, {"--timeout": "timeout"})
    timeout = _timeout_ms(values)
    if len(names) != 1 or not _quote(names[0]):
        raise _Fallback()
    status, answer = _call("POST", "/apps/%s/restart?timeout=%d" % (_quote(names[0]), timeout), {})
    if status != 200:
        return _fail(status, answer)
    print(names[0], flush=True)
    return 0


def rm(args):
    seen, _, names = _options(args, {"-f": "force", "--force": "force"}, {})
    if not names or not all(_quote(n) for n in names):
        raise _Fallback()
    for name in names:
        status, answer = _call("DELETE", "/apps/" + _quote(name) + ("?force=1" if "force" in seen else ""))
        if status not in (200, 204):
            return _fail(status, answer)
        print(name, flush=True)
    return 0


def _fast(command):
    def run(args):
        try:
            return command(args)
        except _Fallback:
            return FALLBACK
    return run


COMMANDS = {"ps": _fast(ps), "logs": _fast(logs), "stop": _fast(stop), "restart": _fast(restart), "rm": _fast(rm)}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
