"""dnt-check: match dataset manifests against a do-not-train registry offline.

`dnt-check sync URL` downloads the registry's signed snapshot (or the segments
it lacks), `dnt-check run PATH...` checks manifests against it, and
`filter_table` filters one Arrow table inside another engine (Dask, Spark).
The matching is the registry's own engine (workers/engine), Django-free.
"""

from .check import CheckResult, Matcher, filter_table, run  # noqa: F401
from .snapshot import Snapshot, SnapshotError, load, sync  # noqa: F401

__version__ = "0.1.0"
