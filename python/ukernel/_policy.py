"""Makes asyncio use the kernel's event loop in a worker, without importing asyncio before the app does.

The loader calls :func:`install` before it loads the app's entry. If asyncio is already imported the policy is set
at once; otherwise a ``sys.meta_path`` finder waits for the first ``import asyncio``, lets the normal import run,
then sets :class:`ukernel._loop.KernelEventLoopPolicy` before the importer gets the module back. An app that never
uses asyncio pays nothing for it (asyncio costs ~20 ms of start-up).
"""

import sys

__all__ = ["install"]

WANTED = False  # install() was called: ukernel._loop sets the policy when it finishes importing, if not yet


def _set_policy():
    loop = sys.modules.get(__package__ + "._loop")
    if loop is not None and not hasattr(loop, "install"):
        return  # ukernel._loop is importing asyncio right now: it sets the policy when it is done
    from ._loop import install as set_policy

    set_policy()


class _Loader:
    """Wraps asyncio's own loader: runs it, then sets the policy."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _set_policy()

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _Finder:
    """A one-shot meta path finder for ``asyncio``."""

    def find_spec(self, name, path=None, target=None):
        if name != "asyncio":
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _Loader(spec.loader)
                return spec
        return None

    def invalidate_caches(self):
        pass


def install():
    """Sets the kernel's event loop policy now if asyncio is imported, else at its first import."""
    global WANTED
    WANTED = True
    if "asyncio" in sys.modules:
        _set_policy()
        return
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
