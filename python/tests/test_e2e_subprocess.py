"""Subprocesses as a capability, end to end (a real kernel and a confined worker through ``<repo>/ukernel run``):
``[caps] subprocess`` lists the programs a task's children may run; ``asyncio.create_subprocess_exec`` and
``_shell`` (pipes and the exit status through the kernel loop's epoll), ``subprocess.run`` and ``Popen.kill`` work
with them; the children stay under the worker's confinement (uid, no sockets, the same view); a program the
manifest does not list is refused with the line to add. docs/confinement.md, "Subprocesses"."""

import os

import pytest

from test_e2e_kernel import PROBE, run_app, write_app


@pytest.fixture
def app_dir(tmp_path):
    if PROBE.error:
        pytest.fail(PROBE.error, pytrace=False)
    return tmp_path / "app"


MANIFEST = """
    name = "tools"
    entry = "src/main.py"
    [caps]
    grant = ["LOG"]
    subprocess = ["sort", "python", "/bin/sh"]
    """

MAIN = """
    import asyncio
    import os
    import subprocess
    import sys

    import ukernel

    CHILD = "\\n".join([
        "import os, socket, stat, sys",
        "try:",  # the task's network rules hold for its children: no net.connect rule, no connection
        "    socket.create_connection(('127.0.0.1', 9), timeout=30)",
        "    net = 'connected'",
        "except PermissionError:",
        "    net = 'no network'",
        "except OSError as e:",
        "    net = 'reached the host: %r' % e",
        "try:",
        "    open('/etc/shadow').close()",
        "    shadow = 'read'",
        "except OSError:",
        "    shadow = 'unreadable'",
        "socks = 0",
        "for fd in range(3, 1024):",
        "    try:",
        "        socks += stat.S_ISSOCK(os.fstat(fd).st_mode)",
        "    except OSError:",
        "        pass",
        "print(os.getuid(), os.getgid(), net, shadow, 'sockets', socks, sys.stdin.read().upper())",
    ])


    async def main():
        ukernel.cap_acquire("LOG")
        # a listed tool by name, stdin and stdout through pipes on the kernel loop
        proc = await asyncio.create_subprocess_exec("sort", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                    stderr=subprocess.PIPE)
        out, err = await proc.communicate(b"pear\\napple\\nfig\\n")
        ukernel.info("sort: %r %r %d" % (out, err, proc.returncode))
        # the worker's own interpreter; the child is confined as the worker is
        child = subprocess.run([sys.executable, "-c", CHILD], input="hello", capture_output=True, text=True)
        ukernel.info("child: %s|%s|%d" % (child.stdout.strip(), child.stderr.strip()[-300:], child.returncode))
        ukernel.info("worker: %d %d" % (os.getuid(), os.getgid()))
        # the shell, when it is listed; exit statuses come back
        sh = await asyncio.create_subprocess_shell("echo $((6 * 7)); exit 3", stdout=subprocess.PIPE)
        out, _ = await sh.communicate()
        ukernel.info("shell: %r %d" % (out, sh.returncode))
        # kill() reaches the child; its death is seen through the loop (a pidfd)
        sleeper = await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(600)")
        sleeper.kill()
        ukernel.info("killed: %d" % await asyncio.wait_for(sleeper.wait(), 60))
        # a program that is not listed: refused, saying what to add
        for argv in (["ls", "/"], ["/usr/bin/env"]):
            try:
                subprocess.run(argv)
                ukernel.info("ran %s" % argv[0])
            except PermissionError as e:
                ukernel.info("refused: %s" % e)
        try:
            await asyncio.create_subprocess_exec("id")
        except PermissionError as e:
            ukernel.info("refused: %s" % e)
        # a child forked without exec holds the connection's descriptor, but the client refuses to use it
        pid = os.fork()
        if pid == 0:
            try:
                ukernel.info("from the fork")
                os._exit(0)
            except BaseException as e:
                os._exit(3 if "forked" in str(e) else 4)
        ukernel.info("fork: %d" % os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    """


def test_listed_programs_run_confined_and_others_are_refused_with_the_line_to_add(app_dir):
    app = write_app(app_dir, MANIFEST, {"src/main.py": MAIN})
    run = run_app(app)
    assert run.status == 0, run.explain()
    log = run.log
    assert "sort: b'apple\\nfig\\npear\\n' b'' 0" in log, run.explain()
    worker = next(l for l in run.lines("main") if " worker: " in l).split(" worker: ", 1)[1]
    uid, gid = worker.split()
    child = next(l for l in run.lines("main") if " child: " in l).split(" child: ", 1)[1]
    assert child == "%s %s no network unreadable sockets 0 HELLO||0" % (uid, gid), run.explain()
    assert "may signal only itself" not in log, run.explain()  # kill() of its own child is no refusal
    assert int(uid) >= 2_000_000_000 or int(uid) != 0, run.explain()
    assert "shell: b'42\\n' 3" in log, run.explain()
    assert "killed: -9" in log, run.explain()
    assert "ran " not in log, run.explain()
    assert 'add it in ukernel.toml: [caps] subprocess = ["ls"]' in log, run.explain()
    assert 'add it in ukernel.toml: [caps] subprocess = ["/usr/bin/env"]' in log, run.explain()
    assert 'add it in ukernel.toml: [caps] subprocess = ["id"]' in log, run.explain()
    assert "execute: " in log, run.explain()  # the confinement report names what may be executed
    assert "· subprocess [sort, python, /bin/sh] ·" in log, run.explain()  # and the policy line what is listed
    assert "fork: 3" in log and "from the fork" not in log, run.explain()


def test_a_program_that_cannot_be_found_stops_the_build_with_what_to_change(app_dir):
    app = write_app(app_dir, MANIFEST.replace('"sort", ', '"no-such-tool-here", '), {"src/main.py": MAIN})
    run = run_app(app)
    assert run.status != 0, run.explain()
    assert "[caps] subprocess: \"no-such-tool-here\" is not found on the kernel's PATH" in run.stderr, run.explain()
    assert "give its absolute path in ukernel.toml" in run.stderr, run.explain()


def test_a_listed_program_finds_its_own_shared_library(app_dir, tmp_path):
    """A program whose library lies beside it (``DT_RUNPATH`` naming its directory), outside every directory the
    view binds anyway: the loader binds the library too (read-only), and the program runs. (``$ORIGIN`` in a
    run path is not expanded in the view: the dynamic loader reads it from ``/proc/self/exe``.)"""
    import shutil
    import subprocess

    if shutil.which("cc") is None:
        pytest.skip("needs a C compiler to build the program")
    tool = tmp_path / "tool"
    (tool / "lib").mkdir(parents=True)
    (tool / "bin").mkdir()
    (tmp_path / "lib.c").write_text("int answer(void) { return 42; }\n")
    (tmp_path / "main.c").write_text('#include <stdio.h>\nint answer(void);\n'
                                     'int main(void) { printf("answer %d\\n", answer()); return 0; }\n')
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(tool / "lib" / "libanswer.so"), str(tmp_path / "lib.c")],
                   check=True)
    subprocess.run(["cc", "-o", str(tool / "bin" / "answer"), str(tmp_path / "main.c"), "-L" + str(tool / "lib"),
                    "-lanswer", "-Wl,-rpath," + str(tool / "lib"), "-Wl,--enable-new-dtags"], check=True)
    program = str(tool / "bin" / "answer")
    app = write_app(app_dir, MANIFEST.replace('"sort", ', '"%s", ' % program), {"src/main.py": """
        import subprocess
        import ukernel

        def main():
            ukernel.cap_acquire("LOG")
            r = subprocess.run([%r], capture_output=True, text=True)
            ukernel.info("tool: %%s|%%s|%%d" %% (r.stdout.strip(), r.stderr.strip(), r.returncode))
        """ % program})
    run = run_app(app)
    assert run.status == 0, run.explain()
    assert "tool: answer 42||0" in run.log, run.explain()



def test_without_a_pid_namespace_listed_programs_are_refused_saying_why(capsys):
    """(The loader's decision, without a kernel: on this host a worker without namespaces cannot read the runtime.)
    Programs listed but no pid namespace: no process variant, no execute right, and the refusal says why."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from ukernel import _confine, _environ, _jail, _loader

    task = _environ.TaskView([], 1 << 20, programs=["/bin/sh"])
    jail = _jail.Jail()
    jail.why_not = "off in [sandbox]"
    programs, processes, why = _loader._programs(task, jail)
    assert programs == () and processes is False
    assert why.startswith("[caps] subprocess is not in force: running programs needs the worker's own pid "
                          "namespace, and this worker has none (off in [sandbox])"), why
    assert "ukernel: " + why in capsys.readouterr().err
    assert _confine.program_refusal("sh", None, None, why) == why
    assert '[caps] subprocess = ["sh"]' in _confine.program_refusal("sh", None)
    jail.namespaces = list(_jail.NAMESPACES)
    programs, processes, why = _loader._programs(task, jail)
    assert processes is True and why is None and os.path.realpath("/bin/sh") in programs
    assert _confine.program_refusal("/bin/sh", programs) is None
    assert "is not among the programs" in _confine.program_refusal("/usr/bin/env", programs)
