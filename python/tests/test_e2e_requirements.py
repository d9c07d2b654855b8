"""requirements.txt end to end: wheels this test builds (a pure-Python one and one with a C extension compiled
here for the worker's interpreter) in a local wheel directory, installed by ``ukernel run``'s build step, imported
by a confined worker from its bundle (the extension's shared object loaded under Landlock and seccomp).
"""

import base64
import hashlib
import os
import shutil
import subprocess
import sysconfig
import zipfile
from pathlib import Path

import pytest

from test_e2e_kernel import run_app, write_app

NATIVE_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b, in C"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "demo_native", NULL, -1, methods};
PyMODINIT_FUNC PyInit_demo_native(void) { return PyModule_Create(&module); }
"""

MAIN = """
import demo_native
import demo_pure

import ukernel


def main():
    ukernel.cap_acquire("LOG")
    ukernel.info("deps: %s, 2 + 3 = %d (from %s)" % (demo_pure.GREETING, demo_native.add(2, 3),
                                                   demo_native.__file__.rsplit("/", 3)[-2]))
"""


def _wheel(out_dir, name, version, tag, files, purelib):
    dist_info = "%s-%s.dist-info/" % (name, version)
    files = dict(files)
    files[dist_info + "METADATA"] = ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
                                     % (name.replace("_", "-"), version)).encode()
    files[dist_info + "WHEEL"] = ("Wheel-Version: 1.0\nGenerator: ukernel-test\nRoot-Is-Purelib: %s\nTag: %s\n"
                                  % ("true" if purelib else "false", tag)).encode()
    record = ["%s,sha256=%s,%d" % (n, base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode(),
                                   len(b)) for n, b in files.items()]
    files[dist_info + "RECORD"] = ("\n".join(record + [dist_info + "RECORD,,"]) + "\n").encode()
    path = Path(out_dir) / ("%s-%s-%s.whl" % (name, version, tag))
    with zipfile.ZipFile(path, "w") as z:
        for n, b in files.items():
            z.writestr(n, b)
    return path


def _worker_python():
    return shutil.which(os.environ.get("UKERNEL_PYTHON") or "python3")


def _native_wheel(out_dir, work):
    """Compiles demo_native for the worker's interpreter (its headers and extension suffix) into a wheel."""
    py = _worker_python()
    info = subprocess.run([py, "-c", "import sysconfig, sys; print(sysconfig.get_paths()['include']);"
                                     "print(sysconfig.get_config_var('EXT_SUFFIX'));"
                                     "print('cp%d%d' % sys.version_info[:2]);"
                                     "print(sysconfig.get_platform().replace('-', '_').replace('.', '_'))"],
                          capture_output=True, text=True, check=True).stdout.split()
    include, suffix, abi, platform = info
    if not os.path.isfile(os.path.join(include, "Python.h")):
        pytest.skip("no Python.h for %s (Debian: apt-get install python3-dev)" % py)
    src = Path(work) / "demo_native.c"
    src.write_text(NATIVE_C)
    so = Path(work) / ("demo_native" + suffix)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-I", include, str(src), "-o", str(so)], check=True)
    return _wheel(out_dir, "demo_native", "1.0", "%s-%s-%s" % (abi, abi, platform),
                  {"demo_native" + suffix: so.read_bytes()}, purelib=False)


def test_requirements_with_a_c_extension_run_confined(tmp_path):
    wheels = tmp_path / "app" / "wheels"
    wheels.mkdir(parents=True)
    _wheel(wheels, "demo_pure", "1.0", "py3-none-any", {"demo_pure/__init__.py": b"GREETING = 'hello'\n"}, True)
    _native_wheel(wheels, tmp_path)
    app = write_app(tmp_path / "app", """
        name = "deps"
        entry = "src/main.py"
        [caps]
        grant = ["LOG"]
        """, {"src/main.py": MAIN, "requirements.txt": "--no-index\n--find-links wheels\ndemo-pure==1.0\n"
                                                       "demo-native==1.0\n"})
    run = run_app(app)
    assert run.status == 0, run.explain()
    assert any("deps: hello, 2 + 3 = 5 (from deps)" in line for line in run.lines("main")), run.explain()
    assert "confinement: strict" in run.log, run.explain()
    assert "ukernel: pip: " in run.stderr, run.stderr  # the install showed its progress
