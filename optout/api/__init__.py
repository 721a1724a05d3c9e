"""The curators' REST API (/api/v1/): manifests, jobs, matches, lookups and the
Spawning-compatible URL check.

The package re-exports its modules' public names, so callers import from
`optout.api` and need not know which module holds what.
"""

from .jobs import (  # noqa: F401
    JobCancelApi,
    JobDetailApi,
    JobDetailOutputSerializer,
    JobListApi,
    JobMatchListApi,
    JobOutputDownloadApi,
    JobOutputFileSerializer,
    JobRetryApi,
    JobStateField,
    JobSummaryOutputSerializer,
    JsonObjectField,
    ManifestOutputSerializer,
    ManifestPartOutputSerializer,
    MatchKindField,
    MatchOutputSerializer,
    errors,
    job_detail,
)
from .lookup import (  # noqa: F401
    LookupApi,
    LookupHitOutputSerializer,
    LookupItemOutputSerializer,
)
from .manifests import ManifestUploadApi  # noqa: F401
from .preferences import PreferencesApi  # noqa: F401
from .search import (  # noqa: F401
    DatasetListApi,
    SearchApi,
    SearchImageApi,
    SearchOptOutApi,
)
from .snapshot import SnapshotApi, SnapshotFileApi  # noqa: F401
from .spawning import (  # noqa: F401
    SpawningQueryUrlsApi,
    SpawningSchema,
    spawning_exception_handler,
)
