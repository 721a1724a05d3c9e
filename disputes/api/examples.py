"""Example requests and answers of the disputes API, shown in its docs."""

from __future__ import annotations

# Examples for the schema, kept next to the serializers they must fit. One story:
# Bob disputes Alice Moreau's URL prefix claim; she answers, an admin narrows
# the claim and, as she is a verified rights holder, a second admin confirms.
EVIDENCE_IMAGE_EXAMPLE = {
    "id": 87,
    "party": "disputer",
    "name": "guest-gallery.png",
    "byte_size": 482113,
    "status": "done",
    "is_image": True,
    "sha256": "13b154c76e1a1b75080d36c2b505cc1bbdc83a5563f63f35b90a9925e3f71e4b",
    "phash": "fbcacf74014d4eee",
    "pdq": "7da5a385c5f220e8dc4b761be8dbb8b3b741addb9adb2877a083e618620280ee",
    "url": "https://registry.example/files/evidence/87",
}


EVIDENCE_DOCUMENT_EXAMPLE = {
    "id": 88,
    "party": "disputer",
    "name": "license-2019.pdf",
    "byte_size": 91544,
    "status": "done",
    "is_image": False,
    "sha256": "9cad367188b903586af3d0e56a1ac5f914f17dab2d4f4961b1b87259ea4ada5f",
    "phash": "",
    "pdq": "",
    "url": "https://registry.example/files/evidence/88",
}


EVIDENCE_CLAIMANT_EXAMPLE = {
    "id": 93,
    "party": "claimant",
    "name": "guest-licences.pdf",
    "byte_size": 210733,
    "status": "done",
    "is_image": False,
    "sha256": "31d0f73a6f60d82431b3982c3b9e6d6d3ab7d92e3f741e3be8039fd79cf99c6f",
    "phash": "",
    "pdq": "",
    "url": "https://registry.example/files/evidence/93",
}


DISPUTE_STATEMENT = (
    "The prefix covers the guest gallery under /guests/, which shows other "
    "artists' work, mine included (see the linked page and my 2019 licence)."
)


DISPUTE_CREATE_EXAMPLE = {
    "target": "claim:302",
    "grounds": "too_broad",
    "statement": DISPUTE_STATEMENT,
    "evidence_urls": ["https://alice-moreau.example/guests/bob-okafor/"],
}


DISPUTE_CREATE_MULTIPART_EXAMPLE = {
    **DISPUTE_CREATE_EXAMPLE,
    "files": ["guest-gallery.png", "license-2019.pdf"],
}


DISPUTE_OPENED_EXAMPLE = {
    "id": 41,
    "target": "claim:302",
    "target_type": "claim",
    "grounds": "too_broad",
    "statement": DISPUTE_STATEMENT,
    "evidence_urls": ["https://alice-moreau.example/guests/bob-okafor/"],
    "evidence": [EVIDENCE_IMAGE_EXAMPLE, EVIDENCE_DOCUMENT_EXAMPLE],
    "state": "awaiting_response",
    "response_due": "2026-11-24T08:20:00Z",
    "response": "",
    "responded_at": None,
    "outcome": "",
    "narrowed_to": "",
    "excluded_images": [],
    "decision_reason": "",
    "lapsed": False,
    "you_are": ["disputer"],
    "disputer": "carol",
    "created": "2026-11-10T08:20:00Z",
    "resolved_at": None,
}


DISPUTE_RESPONSE = (
    "The guest gallery shows work I commissioned and hold licences for; the "
    "licences are attached. My own pages are under /portfolio/."
)


DISPUTE_RESPOND_EXAMPLE = {"response": DISPUTE_RESPONSE}


DISPUTE_RESPOND_MULTIPART_EXAMPLE = {
    **DISPUTE_RESPOND_EXAMPLE,
    "files": ["guest-licences.pdf"],
}


DISPUTE_ANSWERED_EXAMPLE = {
    **DISPUTE_OPENED_EXAMPLE,
    "evidence": [
        EVIDENCE_IMAGE_EXAMPLE,
        EVIDENCE_DOCUMENT_EXAMPLE,
        EVIDENCE_CLAIMANT_EXAMPLE,
    ],
    "state": "under_review",
    "response": DISPUTE_RESPONSE,
    "responded_at": "2026-11-14T16:05:00Z",
    "you_are": ["claimant"],
    "disputer": "another user",
}


DISPUTE_WITHDRAWN_EXAMPLE = {
    **DISPUTE_OPENED_EXAMPLE,
    "state": "withdrawn",
    "resolved_at": "2026-11-12T10:41:07Z",
}


DECISION_REASON = (
    "The guest gallery is not Alice's work; the claim keeps her own pages "
    "under /portfolio/."
)


DISPUTE_RESOLVE_NARROW_CLAIM_EXAMPLE = {
    "outcome": "narrowed",
    "reason": DECISION_REASON,
    "narrowed_to": "https://alice-moreau.example/portfolio/",
}


DISPUTE_RESOLVE_NARROW_WORK_EXAMPLE = {
    "outcome": "narrowed",
    "reason": "Two of the series' images are the disputer's photographs.",
    "excluded_images": [5120, 5121],
}


DISPUTE_RESOLVE_UPHOLD_EXAMPLE = {
    "outcome": "upheld",
    "reason": "The licences show the claimant may protect the guest gallery.",
}


DISPUTE_PROPOSED_EXAMPLE = {
    **DISPUTE_ANSWERED_EXAMPLE,
    "state": "pending_confirmation",
    "outcome": "narrowed",
    "narrowed_to": "https://alice-moreau.example/portfolio/",
    "decision_reason": DECISION_REASON,
    "you_are": ["admin"],
}


DISPUTE_UPHELD_EXAMPLE = {
    **DISPUTE_ANSWERED_EXAMPLE,
    "state": "resolved",
    "outcome": "upheld",
    "decision_reason": DISPUTE_RESOLVE_UPHOLD_EXAMPLE["reason"],
    "you_are": ["admin"],
    "resolved_at": "2026-11-18T11:02:45Z",
}


DISPUTE_CONFIRM_EXAMPLE = {"approve": True}


DISPUTE_DECLINE_EXAMPLE = {
    "approve": False,
    "reason": "The licences cover the guest gallery too; look at them again.",
}


DISPUTE_NARROWED_EXAMPLE = {
    **DISPUTE_PROPOSED_EXAMPLE,
    "state": "resolved",
    "resolved_at": "2026-11-19T09:12:30Z",
}


DISPUTE_DECLINED_EXAMPLE = {
    **DISPUTE_ANSWERED_EXAMPLE,
    # Declining clears the proposed outcome and its reason (kept in the audit log).
    "decision_reason": "",
    "you_are": ["admin"],
}


MATCH_REPORT_EXAMPLE = {
    "reason": "name_other_sense",
    "text": "The caption names the river Moreau, not the artist.",
}


MATCH_REPORT_PLAIN_EXAMPLE = {"reason": "not_same_image"}


MATCH_REPORTED_EXAMPLE = {
    "id": 57,
    "match": 90211,
    "reason": "name_other_sense",
    "text": "The caption names the river Moreau, not the artist.",
    "state": "open",
    "created": "2026-11-24T08:20:00Z",
}
