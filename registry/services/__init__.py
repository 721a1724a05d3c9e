"""Every write to the registry: rights holders, works, images and their
fingerprints, claims and their proof. Keyword-only, typed, raising DomainError.

The package re-exports its modules' public names, so callers import from
`registry.services` and need not know which module holds what.
"""

from .claims import (  # noqa: F401
    SUSPENDABLE,
    BulkResult,
    claim_create,
    claim_create_bulk,
    claim_review,
    claim_withdraw,
    claims_activate_for_verified_email,
    claims_reinstate_for_account,
    claims_suspend_for_account,
    claims_text_from_file,
    holdings_withdraw_for_account,
    normalize_style_name,
)
from .domain_proof import (  # noqa: F401
    CLAIMS_URL,
    SWEEP_BATCH,
    claim_domain_check,
    claim_domain_check_request,
    domain_proof_sweep,
    proof_config,
    proof_file_url,
    proof_home_url,
    proof_meta_tag,
)
from .files import (  # noqa: F401
    withdrawn_files_sweep,
    work_files_delete,
)
from .holders import (  # noqa: F401
    rights_holder_create,
    rights_holder_set_verified,
    rights_holder_update,
)
from .images import (  # noqa: F401
    image_fingerprint,
    image_needs_refingerprint,
    images_refingerprint,
    images_sweep,
)
from .publishing import (  # noqa: F401
    claim_publication,
    claim_publication_block,
    image_original_with_xmp,
    published_read,
)
from .revision import (  # noqa: F401
    registry_revision_bump,
)
from .works import (  # noqa: F401
    HASH_FIELDS,
    UploadResult,
    image_register_hashes,
    portfolio_upload,
    work_create,
    work_update,
    work_withdraw,
)
