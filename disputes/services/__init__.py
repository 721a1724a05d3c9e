"""Every write for disputes and false-match reports.

The package re-exports its modules' public names, so callers import from
`disputes.services` and need not know which module holds what.
"""

from disputes.selectors import disputer_label  # noqa: F401, E402

from .disputes import (  # noqa: F401
    Target,
    dispute_confirm,
    dispute_create,
    dispute_deadlines_run,
    dispute_resolve,
    dispute_respond,
    dispute_target_for,
    dispute_url,
    dispute_withdraw,
    disputes_withdraw_for_account,
    target_parse,
)
from .evidence import (  # noqa: F401
    MAX_EVIDENCE_URLS,
    evidence_fingerprint,
    evidence_sweep,
)
from .reports import (  # noqa: F401
    false_match_report_create,
    false_match_report_decide,
)
from .review import (  # noqa: F401
    review_digest_send,
    review_waiting_counts,
)
