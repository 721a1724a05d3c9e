"""Every write of the curators' side: manifests, match jobs and their chunks,
reports and receipts.

The package re-exports its modules' public names, so callers import from
`optout.services` and need not know which module holds what.
"""

from .account_data import (  # noqa: F401
    manifests_delete_for_account,
)
from .datasets import (  # noqa: F401
    dataset_add,
    dataset_chunk_run,
    dataset_images,
    dataset_ingest,
    dataset_remove,
    dataset_sweep,
    search_opt_out,
)
from .finalize import (  # noqa: F401
    match_job_finalize,
    passed_unchecked_warning,
    receipt_build,
    receipt_file,
    receipt_output,
    receipt_sidecar,
)
from .jobs import (  # noqa: F401
    KIND_CLAIM,
    NO_SIGNALS,
    PERCEPTUAL_LEVELS,
    count_reason,
    match_chunk_run,
    match_chunk_worker_lost,
    match_job_cancel,
    match_job_ingest,
    match_job_retry,
    match_job_start,
    match_sweep,
    signal_protocols,
)
from .lookups import (  # noqa: F401
    lookup_seen_record,
)
from .manifests import (  # noqa: F401
    UploadedManifestFile,
    manifest_upload,
)
from .receipts import (  # noqa: F401
    receipt_key_rotate,
    receipt_sign,
)
