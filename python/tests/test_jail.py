"""ukernel._jail: the pieces that need no privilege, in this process; the jail itself in subprocesses (root: the
namespaces a root kernel gives its workers; an unprivileged user: the user-namespace variant). The jail through a
real kernel is the adversarial suite's business (python/tests/adversarial/)."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ukernel import _jail as j

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- pieces ----------------------------------------------------------------------------------------------------------

def test_symlinks_on_follows_links_in_the_middle_and_at_the_end(tmp_path):
    real = tmp_path / "usr" / "lib"
    real.mkdir(parents=True)
    (real / "data").write_text("x")
    os.symlink("usr/lib", tmp_path / "lib")
    os.symlink(str(real / "data"), tmp_path / "latest")
    links = j.symlinks_on([str(tmp_path / "lib" / "data"), str(tmp_path / "latest"), "relative/ignored"])
    assert links == {str(tmp_path / "lib"): "usr/lib", str(tmp_path / "latest"): str(real / "data")}


def test_symlinks_on_stops_on_a_loop(tmp_path):
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    assert set(j.symlinks_on([str(tmp_path / "a" / "x")])) == {str(tmp_path / "a"), str(tmp_path / "b")}


def test_readable_by_names_the_directory_that_stops_a_uid(tmp_path):
    d = tmp_path / "private"
    d.mkdir()
    f = d / "file"
    f.write_text("x")
    os.chmod(f, 0o644)
    os.chmod(d, 0o700)
    uid = j.WORKER_ID_MIN + 7
    above = j.readable_by(str(tmp_path), uid, uid)  # pytest's own directories may already stop it
    stop = j.readable_by(str(f), uid, uid)
    assert stop == above if above else stop.startswith(str(d) + " (mode 0700, owner %d)" % os.getuid())
    os.chmod(d, 0o711)  # traversable without being listable: enough to open a known file
    assert j.readable_by(str(f), uid, uid) == above
    os.chmod(f, 0o600)
    if above is None:
        assert j.readable_by(str(f), uid, uid).startswith(str(f) + " (mode 0600")
    os.chmod(f, 0o640)
    assert j.readable_by(str(f), uid, os.stat(f).st_gid) == above  # the group may read


def test_exit_status_is_the_code_or_128_plus_the_signal():
    assert j.exit_status(5 << 8) == 5
    assert j.exit_status(143 << 8) == 143
    assert j.exit_status(signal.SIGKILL) == 137
    assert j.exit_status(signal.SIGTERM) == 143


def test_a_worker_id_outside_the_range_is_refused_before_anything_changes():
    for bad in (0, 65534, 100000, j.WORKER_ID_MIN - 1, j.WORKER_ID_MAX + 1):
        with pytest.raises(j.JailError, match="outside"):
            j.isolate("/", "on", bad, -1, 0)


def test_report_text_names_the_namespaces_or_why_not():
    jail = j.Jail()
    jail.namespaces, jail.binds, jail.uid, jail.gid = ["mount", "pid"], 3, 2000000001, 2000000001
    assert jail.text().startswith("namespaces mount+pid (minimal root: 3 read-only binds, no /proc), uid 2000000001")
    jail = j.Jail()
    jail.why_not, jail.uid, jail.gid = "off in [sandbox]", 1000, 1000
    assert jail.text().startswith("namespaces none (off in [sandbox]), uid 1000 gid 1000")


# -- the jail, in subprocesses ---------------------------------------------------------------------------------------

SCRIPT = """\
import os, signal, socket, sys
sys.path.insert(0, sys.argv[1])
from ukernel import _jail
kernel, other_end = socket.socketpair()
task = None
if os.environ.get("JAIL_PREOPEN"):  # the task's view: one rw preopen, a 1 MiB tmpfs, the generated /etc
    from ukernel import _environ
    task = _environ.TaskView([_environ.Preopen("data", os.environ["JAIL_PREOPEN"], True)], 1 << 20)
jail = _jail.isolate(os.getcwd(), sys.argv[2], 2000000123, kernel.fileno(), 0, task=task)
if task is not None:
    with open(os.path.join(os.environ.get("JAIL_WRITE_DIR", os.environ["JAIL_PREOPEN"]), "from-worker"), "w") as f:
        f.write("hi")
    with open("/tmp/t", "w") as f, open("/home/ukernel/h", "w") as g:
        f.write("t")
        g.write("h")
    st = os.stat("/tmp")
    print("task", oct(st.st_mode & 0o777), st.st_uid, open("/etc/passwd").read().splitlines()[1])
print("pid", os.getpid(), "uid", os.getuid(), os.getgid(), "groups", os.getgroups())
print("root", sorted(os.listdir("/")))
print("dev", sorted(os.listdir("/dev")))
print("host", socket.gethostname())
print("shadow", os.path.exists("/etc/shadow"), "proc", os.path.exists("/proc/self"))
try:
    open("/written", "w")
except OSError as e:
    print("write", e.errno)
how = sys.argv[3]
signal.signal(signal.SIGTERM, lambda *a: os._exit(43))
# CPython runs a handler between byte codes: a signal landing just before a blocking read would wait behind it.
# The wake-up pipe (written by the C-level handler) ends the wait instead.
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
print("report", jail.text(), flush=True)
if how == "wait":
    import select
    select.select([sys.stdin, wake_r], [], [])  # the handler runs as soon as this returns
elif how == "segv":  # a signal from the host kernel (PID 1 ignores its own kill(SIGKILL))
    import ctypes
    ctypes.string_at(0)
sys.exit(5)
"""


def jail_dir(tmp_path):
    """A bundle-like directory every user can read (the unprivileged variant runs as nobody)."""
    d = tmp_path / "bundle"
    d.mkdir()
    (d / "run.py").write_text(SCRIPT)
    for p in [d] + [x for x in d.parents]:
        if str(p).startswith("/tmp/") or p == d:
            os.chmod(p, 0o755)
    return d


def run_jailed(d, python, how="exit", namespaces="on", preexec=None, **kw):
    if "env" in kw:
        kw["env"] = dict(os.environ, **kw["env"])
    return subprocess.Popen([python, "-I", "-S", str(d / "run.py"), PYTHON_DIR, namespaces, how], cwd=str(d),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=preexec, **kw)


def lines_of(out):
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the root variant needs root")


@needs_root
def test_root_jail_minimal_root_own_namespaces_and_a_worker_uid(tmp_path):
    d = jail_dir(tmp_path)
    p = run_jailed(d, sys.executable)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 5, err  # C's exit code, passed on by P
    got = lines_of(out)
    assert got["pid"] == "1 uid 2000000123 2000000123 groups []", out
    top = eval(got["root"])
    assert "proc" not in top and "home" not in top and "dev" in top, top
    assert eval(got["dev"]) == ["null", "random", "urandom", "zero"], out
    assert got["host"] == "ukernel", out
    assert got["shadow"] == "False proc False", out
    assert got["write"] == "30", out  # EROFS: the new root is read-only
    assert got["report"].startswith("namespaces mount+pid+ipc+net+uts"), out


@needs_root
def test_root_jail_reports_a_signal_death_as_128_plus_it(tmp_path):
    p = run_jailed(jail_dir(tmp_path), sys.executable, how="segv")
    p.communicate(timeout=60)
    assert p.returncode == 128 + signal.SIGSEGV


@needs_root
def test_root_jail_forwards_sigterm_to_the_worker(tmp_path):
    p = run_jailed(jail_dir(tmp_path), sys.executable, how="wait")
    for line in p.stdout:  # wait for the worker to be in place
        if line.startswith("report "):
            break
    p.send_signal(signal.SIGTERM)  # stdin stays open: the worker can only end through the signal
    try:
        assert p.wait(60) == 43
    finally:
        p.stdin.close()


@needs_root
def test_without_namespaces_a_runtime_the_worker_uid_cannot_read_is_a_clear_error(tmp_path):
    stop = j.readable_by(sys.prefix, 2000000123, 2000000123)
    if stop is None:
        pytest.skip("this runtime (%s) is readable by every user" % sys.prefix)
    p = run_jailed(jail_dir(tmp_path), sys.executable, namespaces="off")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1 and "JailError" in err and "cannot read" in err, err
    assert 'namespaces = \\"auto\\"' in err or 'namespaces = "auto"' in err, err


def _system_python():
    for exe in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(exe) and j.readable_by(exe, 65534, 65534) is None:
            return exe
    return None


@needs_root
def test_unprivileged_jail_uses_a_user_namespace(tmp_path):
    python = _system_python()
    if python is None or j.readable_by(PYTHON_DIR, 65534, 65534) is not None:
        pytest.skip("no interpreter and adapter an unprivileged user can run")

    def nobody():
        os.setgroups([])
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)

    p = run_jailed(jail_dir(tmp_path), python, preexec=nobody)
    out, err = p.communicate(timeout=60)
    if p.returncode != 5 and "unshare" in err:
        pytest.skip("this host refuses unprivileged user namespaces: %s" % err.strip().splitlines()[-1])
    assert p.returncode == 5, err
    got = lines_of(out)
    assert got["pid"] == "1 uid 2000000123 2000000123 groups []", out
    assert got["report"].startswith("namespaces user+mount+pid+ipc+net+uts"), out
    assert got["shadow"] == "False proc False", out


def preopen_dir(tmp_path, owner):
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, owner, owner)
    return data


@needs_root
@pytest.mark.parametrize("variant", ["root", "unprivileged"])
def test_jail_builds_the_tasks_view_preopen_tmpfs_and_etc(tmp_path, variant):
    """The preopen is writable by the worker id and what it writes belongs to the directory's owner on the host
    (root: an idmapped mount; unprivileged: the user namespace maps the worker id to the kernel's uid)."""
    if variant == "root":
        python, owner, preexec = sys.executable, 0, None
    else:
        python, owner = _system_python(), 65534
        if python is None or j.readable_by(PYTHON_DIR, 65534, 65534) is not None:
            pytest.skip("no interpreter and adapter an unprivileged user can run")

        def preexec():
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
    data = preopen_dir(tmp_path, owner)
    p = run_jailed(jail_dir(tmp_path), python, preexec=preexec, env={"JAIL_PREOPEN": str(data)})
    out, err = p.communicate(timeout=60)
    if p.returncode != 5 and "unshare" in err and variant != "root":
        pytest.skip("this host refuses unprivileged user namespaces")
    assert p.returncode == 5, err
    got = lines_of(out)
    assert got["task"] == "0o700 2000000123 ukernel:x:2000000123:2000000123:ukernel worker:/home/ukernel:" \
                          "/usr/sbin/nologin", out
    st = os.stat(data / "from-worker")
    assert (data / "from-worker").read_text() == "hi" and (st.st_uid, st.st_gid) == (owner, owner)
    assert not (tmp_path / "t").exists()


@needs_root
def test_a_link_swapped_into_a_preopen_path_after_the_kernels_check_is_refused(tmp_path):
    """Red team: the kernel resolves a preopen and passes its real path; whoever owns the app directory swaps a
    symbolic link in before the loader binds it (here: the path handed over is already one). The jail must bind
    what the kernel checked or nothing: before, it bound the link's target (another host directory, idmapped to
    the worker, writable) and the worker wrote there."""
    (tmp_path / "elsewhere").mkdir()
    elsewhere = preopen_dir(tmp_path / "elsewhere", 0)
    link = tmp_path / "data-link"
    os.symlink(str(elsewhere), link)
    p = run_jailed(jail_dir(tmp_path), sys.executable, env={"JAIL_PREOPEN": str(link), "JAIL_WRITE_DIR": str(elsewhere)})
    out, err = p.communicate(timeout=60)
    assert p.returncode != 5, out
    assert "not the directory the kernel checked" in err, err
    assert not (elsewhere / "from-worker").exists()


PROGRAMS_SCRIPT = """\
import os, resource, socket, subprocess, sys
sys.path.insert(0, sys.argv[1])
from ukernel import _confine, _environ, _jail
kernel, other_end = socket.socketpair()
task = _environ.TaskView([], 1 << 20, programs=["/bin/sh"])
task.program_files()  # read while the host's view is whole
jail = _jail.isolate(os.getcwd(), "on", 2000000123, kernel.fileno(), 0, task=task)
_confine.confine(os.getcwd(), rules=task.rules(), programs=[real for _, real in task.program_files()],
                 processes=True)
print("nproc", resource.getrlimit(resource.RLIMIT_NPROC)[0])
print("sh", subprocess.run(["/bin/sh", "-c", "echo $$ $(id -u 2>&1 || true)"], capture_output=True,
                           text=True).stdout.strip().split()[0])
r, w = os.pipe()
n, err = 0, "none"
for _ in range(int(sys.argv[2])):
    try:
        os.posix_spawn("/bin/sh", ["sh", "-c", "read x"], {}, file_actions=[(os.POSIX_SPAWN_DUP2, r, 0)])
        n += 1
    except OSError as e:
        err = e.strerror
        break
print("spawned", n, err, flush=True)
sys.exit(5)
"""


@needs_root
@pytest.mark.parametrize("variant", ["root", "unprivileged"])
def test_a_task_with_programs_runs_them_and_its_children_are_bounded(tmp_path, variant):
    """With ``[caps] subprocess`` the worker may run the listed program, and ``RLIMIT_NPROC`` bounds its children
    also in a user namespace (an unprivileged kernel): Linux counts the limit per user namespace (>= 5.14)."""
    d = jail_dir(tmp_path)
    (d / "programs.py").write_text(PROGRAMS_SCRIPT)
    if variant == "root":
        python, preexec = sys.executable, None
    else:
        python = _system_python()
        if python is None or j.readable_by(PYTHON_DIR, 65534, 65534) is not None:
            pytest.skip("no interpreter and adapter an unprivileged user can run")

        def preexec():
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
    wanted = j.MAX_THREADS + 100
    p = subprocess.Popen([python, "-I", "-S", str(d / "programs.py"), PYTHON_DIR, str(wanted)], cwd=str(d),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=preexec)
    out, err = p.communicate(timeout=300)
    if p.returncode != 5 and "unshare" in err and variant != "root":
        pytest.skip("this host refuses unprivileged user namespaces")
    assert p.returncode == 5, err
    got = lines_of(out)
    assert got["nproc"] == str(j.MAX_THREADS), out
    assert got["sh"].isdigit() and int(got["sh"]) > 1, out  # the shell ran, a pid of the worker's namespace
    n, why = got["spawned"].split(" ", 1)
    assert int(n) < j.MAX_THREADS and why == "Resource temporarily unavailable", out
