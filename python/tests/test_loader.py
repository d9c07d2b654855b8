"""_boot.py run as the kernel runs it: a real `python3 -I -S` subprocess in a bundle, against the fake kernel."""

import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest
from _fake_kernel import FakeKernel

UKERNEL_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ukernel")
MANIFEST = 'name = "t"\nentry = "src/main.py"\n'
HANG = 60  # seconds; only bounds a hang


@pytest.fixture
def kernel():
    with FakeKernel() as k:
        yield k


def bundle(tmp_path, files, manifest=MANIFEST):
    """An extracted bundle: ukernel.toml, src/..., adapter/ukernel (a copy of the package under test)."""
    root = tmp_path / "bundle"
    shutil.copytree(UKERNEL_DIR, root / "adapter" / "ukernel", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "src").mkdir()
    if manifest is not None:
        (root / "ukernel.toml").write_text(manifest)
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    return root


def command(root):
    return [sys.executable, "-I", "-S", str(root / "adapter" / "ukernel" / "_boot.py")]


def run(root, kernel, timeout=30, **env):
    return subprocess.run(command(root), cwd=root, env=kernel.env(**env), capture_output=True, text=True,
                          timeout=timeout)


def start(root, kernel, stdin=None, **env):
    return subprocess.Popen(command(root), cwd=root, env=kernel.env(**env), stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def read_line(proc, timeout=HANG):
    """One line of stdout, failing instead of hanging if it does not come (i.e. if stdout is not line-buffered).
    Byte by byte from the descriptor: a buffered readline could take the next line too, which select would then
    never report."""
    fd, line = proc.stdout.fileno(), b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], timeout)
        assert ready, "no line from the worker within %ss (so far: %r)" % (timeout, line)
        byte = os.read(fd, 1)
        if not byte:
            break
        line += byte
    return line.decode()


def test_sync_main_return_value_is_the_exit_code(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": """
        def main():
            print("sync ran")
            return 3
    """})
    r = run(root, kernel)
    assert (r.returncode, r.stdout, r.stderr) == (3, "sync ran\n", "")
    assert kernel.exit_codes == [3]
    assert [name for name, _ in kernel.calls] == ["hello", "task_exit"]


def test_async_main_runs(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": """
        import asyncio

        async def main():
            await asyncio.sleep(0.01)
            print("async ran")
    """})
    r = run(root, kernel)
    assert (r.returncode, r.stdout) == (0, "async ran\n"), r.stderr
    assert kernel.exit_codes == [0]


def test_entry_with_function_and_app_imports(tmp_path, kernel):
    root = bundle(tmp_path, {
        "src/helper.py": "VALUE = 'helper imported'\n",
        "src/app.py": """
            import helper

            def main():
                raise AssertionError("main must not run")

            def serve():
                print(helper.VALUE)
                return 0
        """,
    }, manifest='name = "t"\nentry = "src/app.py:serve"\n')
    r = run(root, kernel)
    assert (r.returncode, r.stdout) == (0, "helper imported\n"), r.stderr


def test_task_entry_from_manifest(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": "def main(): return 1\n", "src/jobs.py": """
        import ukernel

        def work():
            ukernel.cap_acquire("LOG")
            ukernel.info("job ran")
            return 6
    """}, manifest=MANIFEST + '\n[[task]]\nname = "job"\nentry = "src/jobs.py:work"\n')
    r = run(root, kernel, UKERNEL_TASK="job")
    assert r.returncode == 6, r.stderr
    assert kernel.logs == [(20, "job ran")]
    r = run(root, kernel, UKERNEL_TASK="nope")
    assert r.returncode == 2 and "no [[task]] named 'nope'" in r.stderr


def test_entry_from_environment_skips_the_manifest(tmp_path, kernel):
    root = bundle(tmp_path, {"src/other.py": "def go(): return 9\n"}, manifest=None)
    assert run(root, kernel, UKERNEL_ENTRY="src/other.py:go").returncode == 9


def test_missing_function(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": "def not_main(): pass\n"})
    r = run(root, kernel)
    assert r.returncode == 2
    assert r.stderr == ('ukernel: src/main.py has no function main() '
                        '(set entry = "file.py:function" in ukernel.toml)\n')
    assert kernel.exit_codes == [2]


def test_bad_manifest_and_missing_file(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": "def main(): pass\n"}, manifest="entry = [oops\n")
    r = run(root, kernel)
    assert r.returncode == 2 and r.stderr.startswith("ukernel: ukernel.toml: ")
    root = bundle(tmp_path / "b2", {}, manifest='entry = "src/gone.py"\n')
    r = run(root, kernel)
    assert r.returncode == 2 and "entry file src/gone.py not found" in r.stderr


def test_exception_prints_traceback_and_exits_1(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": """
        def helper():
            raise ValueError("boom")

        def main():
            helper()
    """})
    r = run(root, kernel)
    assert r.returncode == 1
    assert r.stderr.startswith("Traceback (most recent call last):\n")
    assert 'main.py", line 6, in main' in r.stderr and "ValueError: boom" in r.stderr
    assert "_loader.py" not in r.stderr  # the loader's own frames are left out
    assert kernel.exit_codes == [1]


def test_async_exception_traceback(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": """
        async def main():
            raise KeyError("async boom")
    """})
    r = run(root, kernel)
    assert r.returncode == 1 and "KeyError: 'async boom'" in r.stderr
    assert "asyncio" not in r.stderr.split("\n")[1]


def test_system_exit_and_keyboard_interrupt(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": """
        import os, sys

        def main():
            how = os.environ["HOW"]
            if how == "exit":
                sys.exit(5)
            if how == "message":
                sys.exit("fatal: bad config")
            raise KeyboardInterrupt
    """})
    assert run(root, kernel, HOW="exit").returncode == 5
    r = run(root, kernel, HOW="message")
    assert (r.returncode, r.stderr) == (1, "fatal: bad config\n")
    assert run(root, kernel, HOW="interrupt").returncode == 130
    assert kernel.exit_codes == [5, 1, 130]


def test_main_block_does_not_run(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": """
        def main():
            print("main ran as", __name__)

        if __name__ == "__main__":
            print("MAIN BLOCK RAN")
            main()
    """})
    r = run(root, kernel)
    assert (r.returncode, r.stdout) == (0, "main ran as main\n"), r.stderr


def test_print_output_arrives_line_by_line(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": """
        import sys

        def main():
            print("first")
            sys.stdin.readline()  # until the test has read "first": the worker is still running meanwhile
            print("second")
    """})
    proc = start(root, kernel, stdin=subprocess.PIPE)
    try:
        assert read_line(proc) == "first\n"  # while the worker is still running
        out, err = proc.communicate("go\n", timeout=HANG)
    finally:
        proc.kill()
    assert (proc.returncode, out, err) == (0, "second\n", "")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_sigterm_exits_143_after_finally(tmp_path, kernel, kind):
    body = {
        "sync": """
            import time

            def main():
                try:
                    print("ready")
                    while True:  # ended by the test's SIGTERM; short sleeps: CPython runs the handler between byte
                        time.sleep(0.2)  # codes, so a signal landing just before one long sleep would wait it out
                finally:
                    print("cleanup ran")
        """,
        "async": """
            import asyncio

            async def main():
                try:
                    print("ready")
                    await asyncio.sleep(3600)  # ended by the test's SIGTERM
                finally:
                    print("cleanup ran")
        """,
    }[kind]
    root = bundle(tmp_path, {"src/main.py": body})
    proc = start(root, kernel)
    try:
        assert read_line(proc) == "ready\n"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=HANG)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert out == "cleanup ran\n"
    assert kernel.exit_codes == [143]


def test_bad_token_exits_70(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": "def main(): print('must not run')\n"})
    r = run(root, kernel, UKERNEL_TOKEN="00" * 16)
    assert (r.returncode, r.stdout) == (70, "")
    assert r.stderr.startswith("ukernel: cannot reach the kernel: hello: denied")
    assert len(r.stderr.splitlines()) == 1


def test_kernel_already_gone_exits_70(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": "def main(): print('must not run')\n"})
    r = run(root, kernel, UKERNEL_KERNEL_PID="1")
    assert (r.returncode, r.stdout) == (70, "")
    assert "the kernel (pid 1) is gone" in r.stderr
    assert kernel.calls == []


def test_no_endpoint_exits_70(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": "def main(): pass\n"})
    r = run(root, kernel, UKERNEL_ENDPOINT="")
    assert r.returncode == 70 and "UKERNEL_ENDPOINT is not set" in r.stderr


def test_token_is_removed_from_the_environment(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": """
        import os

        def main():
            print(sorted(k for k in os.environ if k.startswith("UKERNEL_")))
    """})
    r = run(root, kernel)
    assert r.stdout == "['UKERNEL_KERNEL_PID']\n", r.stderr


def test_loader_imports_stay_light(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": """
        import sys

        def main():
            heavy = {"asyncio", "logging", "typing", "enum", "inspect", "importlib.util", "tomllib", "traceback"}
            print(sorted(heavy & set(sys.modules)))
    """})
    for env in ({}, {"UKERNEL_ENTRY": "src/main.py"}):  # the plain manifest is read without tomllib
        r = run(root, kernel, **env)
        assert r.stdout == "[]\n", r.stderr


def test_syntax_error_in_the_entry(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": "def main(:\n    pass\n"})
    r = run(root, kernel)
    assert r.returncode == 1 and "SyntaxError" in r.stderr and "main.py" in r.stderr


QUICK_CASES = [  # (manifest, what the quick reader answers: None hands over to tomllib)
    ('name = "a"\nentry = "src/main.py"\n', "src/main.py"),
    ('entry = "src/app.py:serve"   # a comment with "quotes"\n[caps]\ngrant = ["LOG"]\n', "src/app.py:serve"),
    ('entry="x.py"\r\nname="y"\r\n', "x.py"),
    ('# entry = "commented.py"\nentry = "src/main.py"\n', "src/main.py"),
    ('name = "a"\n[caps]\nentry = "not/top/level.py"\n', None),
    ('name = "a"\n', None),
    ("entry = 'literal.py'\n", None),
    ('entry = "esc\\u0061ped.py"\n', None),
    ('"entry" = "quoted.py"\n', None),
    ("entry . x = 1\n", None),
    ('desc = """\nentry = "inside.py"\n"""\nentry = "real.py"\n', None),
    ('x = [\n  [1, 2],\n]\nentry = "after_array.py"\n', None),
    ('[[task]]\nname = "job"\nentry = "src/job.py"\n', None),
]


@pytest.mark.parametrize("text, expected", QUICK_CASES)
def test_quick_entry_agrees_with_tomllib(text, expected):
    import tomllib

    from ukernel._loader import quick_entry

    assert quick_entry(text) == expected
    if expected is not None:
        assert tomllib.loads(text)["entry"] == expected


def test_quick_entry_reads_the_example_manifest():
    from ukernel._loader import quick_entry

    path = os.path.join(os.path.dirname(UKERNEL_DIR), "..", "examples", "hello", "ukernel.toml")
    if not os.path.exists(path):
        pytest.skip("no examples/hello in this checkout")
    with open(path) as f:
        assert quick_entry(f.read()) == "src/main.py"


def test_confinement_report_begins_with_the_prefix_the_kernel_trusts():
    # The kernel tags the first stdout line sandbox.applied only when it begins with Abi.REPORT_CONFINED
    # (docs/confinement.md, "The console is the kernel's voice"); _abi.py is generated from the Java constant.
    from ukernel import _abi, _confine

    assert _confine.Report().line().startswith(_abi.REPORT_CONFINED)
    assert _abi.REPORT_CONFINED == "ukernel: confined: " and _abi.REPORT_UNCONFINED == "ukernel: unconfined: "


# -- the jail, as the kernel asks for it (UKERNEL_NAMESPACES, UKERNEL_WORKER_ID) ---------------------------------

def test_bad_isolation_settings_exit_71_before_the_apps_code(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": "def main(): print('must not run')\n"})
    r = run(root, kernel, UKERNEL_SANDBOX="strict", UKERNEL_NAMESPACES="auto", UKERNEL_WORKER_ID="root")
    assert (r.returncode, r.stdout) == (71, "")
    assert r.stderr.startswith("ukernel: isolation failed, the task's code is not run: bad UKERNEL_NAMESPACES")
    assert kernel.exit_codes == [71]


@pytest.mark.skipif(os.geteuid() != 0, reason="the root variant of the jail")
def test_strict_worker_runs_in_its_namespaces_as_its_worker_id_and_its_code_passes_through(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": """
        import os
        def main():
            print("in", os.getpid(), os.getuid(), os.getgid(), sorted(os.environ).count("UKERNEL_WORKER_ID"))
            return 9
    """})
    r = run(root, kernel, UKERNEL_SANDBOX="strict", UKERNEL_NAMESPACES="on", UKERNEL_WORKER_ID="2000000042")
    assert r.returncode == 9, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("ukernel: confined: ") and "namespaces mount+pid+ipc+net+uts" in lines[0], r.stdout
    assert "uid 2000000042 gid 2000000042" in lines[0], r.stdout
    assert lines[1] == "in 1 2000000042 2000000042 0", r.stdout  # PID 1, the worker id, the variable consumed
    assert kernel.exit_codes == [9]  # task_exit from the worker C, over the connection P let go of


@pytest.mark.skipif(os.geteuid() != 0, reason="the root variant of the jail")
def test_sigterm_to_the_supervisor_reaches_the_worker_and_exits_143(tmp_path, kernel):
    root = bundle(tmp_path, {"src/main.py": """
        import time
        def main():
            try:
                print("ready", flush=True)
                while True:  # short sleeps: a signal landing just before one long sleep would wait it out
                    time.sleep(0.2)
            finally:
                print("finally ran", flush=True)
    """})
    p = start(root, kernel, UKERNEL_SANDBOX="strict", UKERNEL_NAMESPACES="on", UKERNEL_WORKER_ID="2000000043")
    try:
        assert read_line(p).startswith("ukernel: confined: ")
        assert read_line(p) == "ready\n"
        p.send_signal(signal.SIGTERM)
        assert p.wait(30) == 143
        assert p.stdout.read() == "finally ran\n"
        assert kernel.exit_codes == [143]
    finally:
        p.kill()
        p.wait()
