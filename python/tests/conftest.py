"""Puts python/ (the ukernel package) and this directory (test helpers) on sys.path."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(HERE)
for path in (PYTHON_DIR, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)
