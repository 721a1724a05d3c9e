"""The artists' REST API (/api/v1/): rights holders, works, images and claims.

The package re-exports its modules' public names, so callers import from
`registry.api` and need not know which module holds what.
"""

from .claims import (  # noqa: F401
    ClaimBulkCreateApi,
    ClaimCheckApi,
    ClaimDetailApi,
    ClaimListCreateApi,
    ClaimWithdrawApi,
)
from .images import (  # noqa: F401
    ImageDetailApi,
    ImageListApi,
    ImageRegisterHashesApi,
    PortfolioUploadApi,
)
from .optins import ClaimOptInApi, WorkOptInApi  # noqa: F401
from .shared import (  # noqa: F401
    ClaimOutputSerializer,
    FingerprintsOutputSerializer,
    ImageOutputSerializer,
    RightsHolderOutputSerializer,
    WorkDetailOutputSerializer,
    WorkOutputSerializer,
)
from .works import (  # noqa: F401
    ApiRootApi,
    RegistryRevisionApi,
    RightsHolderApi,
    WorkDetailApi,
    WorkListCreateApi,
    WorkWithdrawApi,
)
