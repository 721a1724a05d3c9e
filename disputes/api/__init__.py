"""The disputes REST API (/api/v1/disputes/ and /api/v1/matches/<id>/report/).

The package re-exports its modules' operations for disputes/urls.py.
"""

from .disputes import (  # noqa: F401
    DisputeConfirmApi,
    DisputeDetailApi,
    DisputeListCreateApi,
    DisputeResolveApi,
    DisputeRespondApi,
    DisputeWithdrawApi,
)
from .reports import MatchReportApi  # noqa: F401
