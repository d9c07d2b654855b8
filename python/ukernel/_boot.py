"""The worker's first code: ``python3 -I -S <bundle>/adapter/ukernel/_boot.py``, run in the bundle directory.

Isolated mode (``-I -S``) leaves the adapter off ``sys.path``: put ``<bundle>/adapter`` first, then hand over
to the loader and exit with its code.
"""

import os
import sys

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from ukernel._loader import main

    sys.exit(main())
