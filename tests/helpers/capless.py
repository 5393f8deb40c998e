"""Run a command as root without the capabilities that let root ignore file modes.

``python capless.py CMD [ARG...]`` drops CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and
CAP_FOWNER from the capability bounding set, then execs CMD. A program root execs
gets no capability outside that set, so CMD (and everything it starts) runs as uid 0
bound by ordinary owner/group/other modes: a root-owned file with mode 0 can't be
opened, a root-owned folder with mode 0o555 can't be written. Unlike dropping to an
unprivileged user it still reaches everything root owns with owner access (an
interpreter under /root, a virtualenv in a root-only clone, root's caches).

Needs CAP_SETPCAP (root has it in an ordinary container); exits 1 with a
``capless:`` message when the drop fails. Linux only.
"""

import ctypes
import os
import sys

PR_CAPBSET_DROP = 24
DROPPED = {"CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3}

libc = ctypes.CDLL(None, use_errno=True)
for name, cap in DROPPED.items():
    if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
        sys.exit(f"capless: cannot drop {name}: {os.strerror(ctypes.get_errno())}")
os.execvp(sys.argv[1], sys.argv[1:])
