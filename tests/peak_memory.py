"""The start of a child script that measures its own peak memory.

Memory tests run the work in a fresh `python -c` subprocess whose source
begins with PRELUDE: `peak_mb()` there is the process's VmHWM (the peak of its
own memory since exec; ru_maxrss would start at the parent's peak when it
forked us). PRELUDE is a str.format template: `{root}` is the repository.
"""

from __future__ import annotations

PRELUDE = """
import json, resource, sys
sys.path.insert(0, {root!r})
def peak_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""
