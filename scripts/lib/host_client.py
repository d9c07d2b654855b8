"""The launcher's fast path for `ukernel run -d ...` when the resident host is up: one HTTP request on its Unix
socket, no JVM. The host resolves -e/--env-file exactly as `ukernel run` does (the bare -e KEYs' values are sent
from this shell). Exit status 3 means "not for the fast path" (an option this client does not know, no host
answering): the launcher then runs the JVM CLI, which handles everything and starts the host when needed.

    python3 -I -S scripts/lib/host_client.py run -d [--name N] [--rm] [-e K[=V]]... [--env-file F]... [DIR]
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


def request(sock_path, body):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    data = json.dumps(body).encode()
    s.sendall(b"POST /apps HTTP/1.1\r\nHost: ukernel\r\nContent-Type: application/json\r\nContent-Length: "
              + str(len(data)).encode() + b"\r\nConnection: close\r\n\r\n" + data)
    chunks = []
    while True:
        c = s.recv(65536)
        if not c:
            break
        chunks.append(c)
    s.close()
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


def main(argv):
    body = parse(argv)
    if body is None:
        return FALLBACK
    home = os.environ.get("UKERNEL_HOME") or os.path.join(os.path.expanduser("~"), ".ukernel")
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
