"""Server-rendered pages for artists: home, dashboard, uploads, works, claims;
staff's style-claim and domain-proof review.

Views parse a form, call one service (writes) or selectors (reads) and render.
A DomainError becomes an error on the form field it names, or a message; a
NotFound (someone else's work or claim) becomes a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import Count
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts.authentication import request_user
from accounts.models import User
from accounts.permissions import staff_required
from audit.selectors import notification_list_for_user, notification_unread_count
from core.errors import DomainError, NotFound
from core.files import content_type_for, stored_file_response
from core.forms import add_domain_error
from core.throttles import CheckNowThrottle, page_throttled
from core.upload_limits import upload_refused
from core.uploads import IncomingFile
from optout.selectors import found_counts, search_opt_outs_for, style_caption_hits
from registry.forms import (
    BecomeArtistForm,
    BulkClaimForm,
    ClaimForm,
    HashesForm,
    OptInForm,
    StyleDecisionForm,
    UploadForm,
)
from registry.models import Claim, Fingerprint, Image, RightsHolder, Work
from registry.permissions import artist_required
from workers.engine import webproof

from . import selectors, services
from .services.optins import opt_in_end, opt_in_for, opt_in_set

WORKS_PER_PAGE = 30


# The works list shows this many images per work; the work's page shows them all.
IMAGES_PER_WORK_IN_LIST = 12


RECENT_WORKS = 6


@dataclass(frozen=True)
class ImageRow:
    """An image with its original fingerprints, ready for the templates."""

    image: Image
    sha256: Fingerprint | None
    md5: Fingerprint | None
    phash: Fingerprint | None
    pdq: Fingerprint | None

    @property
    def pdq_low_quality(self) -> bool:
        quality = self.pdq.quality if self.pdq else None
        return quality is not None and quality < settings.PDQ_LOW_QUALITY


def image_row(image: Image) -> ImageRow:
    prints = selectors.fingerprints_by_algorithm(image)
    return ImageRow(
        image=image,
        sha256=prints.get(Fingerprint.Algorithm.SHA256),
        md5=prints.get(Fingerprint.Algorithm.MD5),
        phash=prints.get(Fingerprint.Algorithm.PHASH),
        pdq=prints.get(Fingerprint.Algorithm.PDQ),
    )


@dataclass(frozen=True)
class WorkRow:
    work: Work
    rows: list[ImageRow]
    more: int  # images not shown in the list

    @property
    def thumbnail(self) -> Image | None:
        return next((r.image for r in self.rows if r.image.thumbnail), None)


def work_rows(works: list[Work], *, limit: int | None = None) -> list[WorkRow]:
    out = []
    for work in works:
        images = list(work.images.all())
        shown = images[:limit] if limit else images
        out.append(
            WorkRow(
                work=work,
                rows=[image_row(i) for i in shown],
                more=len(images) - len(shown),
            )
        )
    return out


def _work_choices(holder: RightsHolder) -> list[tuple[int, str]]:
    works = selectors.work_list_for_owner(
        owner=holder, status=Work.Status.ACTIVE
    ).prefetch_related(None)
    return list(works.values_list("id", "title"))


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "registry/home.html")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]  # login_required
    holder = selectors.rights_holder_for_user(user=user)
    ctx: dict[str, Any] = {
        "holder": holder,
        "revision": selectors.registry_revision_current(),
        "become_artist_form": BecomeArtistForm(
            initial={"display_name": user.get_full_name() or user.username}
        ),
    }
    if holder is not None:
        works = selectors.work_list_for_owner(owner=holder)
        image_counts = dict(
            selectors.image_list_for_owner(owner=holder)
            .prefetch_related(None)
            .select_related(None)
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
        )
        claim_counts = dict(
            selectors.claim_list_for_owner(owner=holder)
            .order_by()
            .values_list("state")
            .annotate(n=Count("id"))
        )
        ctx.update(
            work_count=works.count(),
            image_counts={s.value: image_counts.get(s.value, 0) for s in Image.Status},
            claim_counts=[(s.label, claim_counts.get(s.value, 0)) for s in Claim.State],
            recent=work_rows(list(works[:RECENT_WORKS])),
        )
    ctx.update(dashboard_context(user, holder))
    return render(request, "registry/dashboard.html", ctx)


@login_required
@require_POST
def become_artist(request: HttpRequest) -> HttpResponse:
    form = BecomeArtistForm(request.POST)
    if not form.is_valid():
        messages.error(request, "display name may not be blank")
        return redirect("dashboard")
    services.rights_holder_create(
        user=request.user,  # type: ignore[arg-type]  # login_required
        display_name=form.cleaned_data["display_name"],
    )
    messages.success(request, "You are now an artist: upload your portfolio next.")
    return redirect("dashboard")


def _upload_context(form: UploadForm, **extra: Any) -> dict[str, Any]:
    return {
        "form": form,
        "max_files": settings.UPLOAD_MAX_FILES,
        "max_file_mb": settings.UPLOAD_MAX_FILE_BYTES // (1024 * 1024),
        **extra,
    }


@artist_required
def upload(request: HttpRequest, holder: RightsHolder) -> HttpResponse:
    works = _work_choices(holder)
    if request.method != "POST":
        form = UploadForm(initial={"work": request.GET.get("work")}, works=works)
        return render(request, "registry/upload.html", _upload_context(form))

    form = UploadForm(request.POST, request.FILES, works=works)
    refused = upload_refused(request)
    if refused:
        form.add_error("files", refused)
        return render(
            request, "registry/upload.html", _upload_context(form), status=413
        )
    if not form.is_valid():
        return render(
            request, "registry/upload.html", _upload_context(form), status=400
        )
    files = [
        IncomingFile(name=f.name, size=f.size, stream=f)
        for f in request.FILES.getlist("files")
    ]
    try:
        result = services.portfolio_upload(
            owner=holder, files=files, work_id=form.cleaned_data["work"]
        )
    except NotFound:
        raise Http404("work not found") from None
    except DomainError as exc:
        add_domain_error(form, exc)
        ctx = _upload_context(form, rejected=exc.extra.get("rejected", []))
        return render(request, "registry/upload.html", ctx, status=400)

    ctx = _upload_context(
        UploadForm(works=_work_choices(holder)),
        added=result.images,
        rejected=[r.as_dict() for r in result.rejected],
    )
    return render(request, "registry/upload_done.html", ctx)


def _works_page(request: HttpRequest, holder: RightsHolder) -> dict[str, Any]:
    paginator = Paginator(selectors.work_list_for_owner(owner=holder), WORKS_PER_PAGE)
    page: Page = paginator.get_page(request.GET.get("page"))
    works = list(page.object_list)
    return {
        "page": page,
        "works": work_rows(works, limit=IMAGES_PER_WORK_IN_LIST),
        "pending": sum(w.pending_count for w in works),  # type: ignore[attr-defined]
        "pdq_low_quality": settings.PDQ_LOW_QUALITY,
    }


@artist_required
def works(request: HttpRequest, holder: RightsHolder) -> HttpResponse:
    return render(request, "registry/works.html", _works_page(request, holder))


@artist_required
def works_fragment(request: HttpRequest, holder: RightsHolder) -> HttpResponse:
    """The works list alone, polled by the works page while images are pending."""
    response = render(
        request, "registry/_works_list.html", _works_page(request, holder)
    )
    response["Cache-Control"] = "no-store"
    return response


@artist_required
def work_detail(
    request: HttpRequest, holder: RightsHolder, work_id: int
) -> HttpResponse:
    work = selectors.work_get_for_owner(owner=holder, work_id=work_id)
    if work is None:
        raise Http404("work not found")
    ctx = {
        "work": work,
        "rows": [image_row(i) for i in work.images.all()],
        "pdq_low_quality": settings.PDQ_LOW_QUALITY,
    }
    return render(request, "registry/work_detail.html", ctx)


@artist_required
@require_POST
def work_withdraw(
    request: HttpRequest, holder: RightsHolder, work_id: int
) -> HttpResponse:
    try:
        work = services.work_withdraw(owner=holder, work_id=work_id)
    except NotFound:
        raise Http404("work not found") from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"“{work.title}” was withdrawn: it is no longer enforced."
        )
    return redirect("work_detail", work_id=work_id)


@artist_required
def register_hashes(request: HttpRequest, holder: RightsHolder) -> HttpResponse:
    works = _work_choices(holder)
    form = HashesForm(request.POST or None, works=works)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            image = services.image_register_hashes(
                owner=holder,
                hashes=form.hashes(),
                title=data["title"],
                work_id=data["work"],
                pdq_quality=data["pdq_quality"],
                descriptor=data["descriptor"],
                descriptor_version=data["descriptor_version"],
            )
        except NotFound:
            raise Http404("work not found") from None
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Hashes registered for “{image.work.title}”.")
            return redirect("work_detail", work_id=image.work_id)
    status = 400 if form.errors else 200
    return render(request, "registry/hashes.html", {"form": form}, status=status)


@artist_required
def claims(request: HttpRequest, holder: RightsHolder) -> HttpResponse:
    form = ClaimForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            claim = services.claim_create(
                owner=holder,
                kind=data["kind"],
                value=data["value"],
                aliases=form.alias_list(),
                preferences=form.preferences(),
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Claim added: {claim}.")
            return redirect("claims")
    ctx = {
        "form": form,
        "claims": selectors.claim_list_for_owner(owner=holder),
        "live_states": {
            Claim.State.ACTIVE,
            Claim.State.UNVERIFIED,
            Claim.State.PENDING_REVIEW,
        },
        # Where a domain's proof of control goes (workers/engine/webproof.py).
        "proof_scheme": settings.DOMAIN_PROOF_SCHEME,
        "proof_path": webproof.WELL_KNOWN_PATH,
        "proof_meta_name": webproof.META_NAME,
        "proof_states": {
            Claim.State.UNVERIFIED,
            Claim.State.ACTIVE,
            Claim.State.SUSPENDED,
        },
    }
    status = 400 if form.errors else 200
    return render(request, "registry/claims.html", ctx, status=status)


@artist_required
def claims_bulk(request: HttpRequest, holder: RightsHolder) -> HttpResponse:
    """Many URL, prefix or domain claims at once: pasted or a text/CSV file."""
    form = BulkClaimForm(request.POST or None, request.FILES or None)
    result = None
    refused = upload_refused(request)
    if refused:
        form.errors.clear()
        form.add_error("file", refused)
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            text = data["lines"]
            upload = data.get("file")
            if upload is not None:
                limit = settings.CLAIM_BULK_MAX_BYTES
                raw = upload.read(limit + 1)
                text = services.claims_text_from_file(name=upload.name, data=raw)
            result = services.claim_create_bulk(
                owner=holder, text=text, default_kind=data["kind"]
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if result.created:
                messages.success(
                    request,
                    f"{len(result.created):,} claims added"
                    + (
                        f"; {len(result.errors):,} lines refused"
                        if result.errors
                        else ""
                    )
                    + ".",
                )
    ctx = {
        "form": form,
        "result": result,
        "max_lines": settings.CLAIM_BULK_MAX_LINES,
    }
    status = 400 if form.errors or (result and not result.created) else 200
    if refused:
        status = 413
    return render(request, "registry/claims_bulk.html", ctx, status=status)


@artist_required
@require_POST
def claim_withdraw(
    request: HttpRequest, holder: RightsHolder, claim_id: int
) -> HttpResponse:
    try:
        claim = services.claim_withdraw(owner=holder, claim_id=claim_id)
    except NotFound:
        raise Http404("claim not found") from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Claim withdrawn: {claim}.")
    return redirect("claims")


@artist_required
def claim_publish(
    request: HttpRequest, holder: RightsHolder, claim_id: int
) -> HttpResponse:
    """Ready blocks to publish the refusal on a proved domain, and which of
    them its site serves (read with each proof check)."""
    try:
        publication = services.claim_publication(claim_id=claim_id, owner=holder)
    except NotFound:
        raise Http404("claim not found") from None
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("claims")
    served_rows = [
        (block.title, publication.live.get(block.name, False))
        for block in publication.blocks
        if block.name != "meta"  # in pages, which the check does not read
    ]
    return render(
        request,
        "registry/publish.html",
        {"p": publication, "served_rows": served_rows},
    )


@artist_required
def claim_publish_file(
    request: HttpRequest, holder: RightsHolder, claim_id: int, name: str
) -> HttpResponse:
    """One block as the file to put on the site."""
    try:
        block = services.claim_publication_block(
            claim_id=claim_id, owner=holder, name=name
        )
    except NotFound:
        raise Http404("not found") from None
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("claims")
    response = HttpResponse(
        block.text, content_type=f"{block.media_type}; charset=utf-8"
    )
    filename = "meta-tags.html" if block.name == "meta" else block.name
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@artist_required
@require_POST
def claim_check(
    request: HttpRequest, holder: RightsHolder, claim_id: int
) -> HttpResponse:
    if limited := page_throttled(request, CheckNowThrottle):
        return limited
    try:
        claim = services.claim_domain_check_request(claim_id=claim_id, owner=holder)
    except NotFound:
        raise Http404("claim not found") from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Checking {claim.normalized} now: reload this page in a minute to see "
            "the result.",
        )
    return redirect("claims")


@staff_required
def review_styles(request: HttpRequest) -> HttpResponse:
    claims = list(selectors.style_review_queue())
    return render(request, "registry/review_styles.html", {"claims": claims})


@staff_required
def review_prefixes(request: HttpRequest) -> HttpResponse:
    """Prefix claims waiting for an admin: approve (enforce) or reject each."""
    form = StyleDecisionForm(request.POST or None)
    if request.method == "POST":
        claim_id = request.POST.get("claim", "")
        claim = (
            selectors.prefix_review_queue().filter(pk=claim_id).first()
            if claim_id.isdigit()
            else None
        )
        if claim is None:
            raise Http404("claim not found")
        if form.is_valid():
            approve = form.cleaned_data["decision"] == "approve"
            try:
                services.claim_review(
                    claim_id=claim.pk,
                    approve=approve,
                    admin=request.user,  # type: ignore[arg-type]  # staff_required
                    reason=form.cleaned_data["reason"],
                )
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                verb = "approved" if approve else "rejected"
                messages.success(
                    request, f"{claim.get_kind_display()} claim “{claim.value}” {verb}."
                )
            return redirect("review_prefixes")
    claims = list(selectors.prefix_review_queue())
    return render(
        request,
        "registry/review_prefixes.html",
        {
            "claims": claims,
            "form": form,
            "url_cap": settings.CLAIM_UNPROVED_URLS_PER_HOST,
        },
        status=400 if form.errors else 200,
    )


@staff_required
def review_style_detail(request: HttpRequest, claim_id: int) -> HttpResponse:
    claim = selectors.style_claim_for_review(claim_id=claim_id)
    if claim is None:
        raise Http404("claim not found")
    form = StyleDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        try:
            claim = services.claim_review(
                claim_id=claim.pk,
                approve=approve,
                admin=request.user,  # type: ignore[arg-type]  # staff_required
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            verb = "approved" if approve else "rejected"
            messages.success(request, f"Style claim “{claim.value}” {verb}.")
            return redirect("review_styles")
    hits = style_caption_hits(
        names=[claim.normalized, *claim.aliases],
        jobs=settings.STYLE_REVIEW_RECENT_JOBS,
        rows_per_job=settings.STYLE_REVIEW_ROWS_PER_JOB,
    )
    ctx = {"review": selectors.style_review(claim=claim, hits=hits), "form": form}
    status = 400 if form.errors else 200
    return render(request, "registry/review_style.html", ctx, status=status)


@staff_required
def review_domains(request: HttpRequest) -> HttpResponse:
    claims = list(selectors.domain_proof_problems()[:500])
    return render(request, "registry/review_domains.html", {"claims": claims})


@staff_required
@require_POST
def review_domain_check(request: HttpRequest, claim_id: int) -> HttpResponse:
    try:
        claim = services.claim_domain_check_request(claim_id=claim_id)
    except NotFound:
        raise Http404("claim not found") from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Re-check of {claim.normalized} queued.")
    return redirect("review_domains")


def dashboard_context(user: User, holder: RightsHolder | None) -> dict[str, Any]:
    """What the dashboard adds: notifications, and where works and claims were
    found (artists)."""
    ctx: dict[str, Any] = {
        "notifications": list(notification_list_for_user(user=user)[:10]),
        "unread": notification_unread_count(user=user),
    }
    if holder is not None:
        works, claims = found_counts(holder=holder)
        titles = dict(
            Work.objects.filter(owner=holder, pk__in=works).values_list("pk", "title")
        )
        claim_rows = {c.pk: c for c in Claim.objects.filter(pk__in=claims)}
        ctx["found_works"] = sorted(
            ((titles.get(pk, f"work {pk}"), pk, count) for pk, count in works.items()),
            key=lambda row: (-row[2].matches, row[1]),
        )
        ctx["found_claims"] = sorted(
            (
                (claim_rows[pk], count)
                for pk, count in claims.items()
                if pk in claim_rows
            ),
            key=lambda row: (-row[1].matches, row[0].pk),
        )
        ctx["search_opt_outs"] = search_opt_outs_for(holder.pk)
    return ctx


def _original_with_xmp(request: HttpRequest, image: Image, name: str) -> HttpResponse:
    """The owner's original carrying the refusal in XMP (IPTC plus:DataMining),
    pixels untouched; for the owner only."""
    holder = selectors.rights_holder_for_user(user=request_user(request))
    if holder is None or image.work.owner_id != holder.pk:
        raise Http404("file not found")
    try:
        data = services.image_original_with_xmp(image=image)
    except DomainError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain")
    response = HttpResponse(
        data, content_type=content_type_for(name=name, image_format=image.format)
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_safe
def image_file(request: HttpRequest, image_id: int, kind: str) -> HttpResponse:
    """An image's original (owner and staff) or thumbnail (also those whose
    pages show it: registry/selectors.image_ids_visible); 404 for anyone else,
    and once a withdrawn work's files are deleted."""
    try:
        image = selectors.image_get_for_viewer(
            user=request_user(request),
            image_id=image_id,
            original=kind == "original",
        )
    except NotFound:
        raise Http404("file not found") from None
    if kind == "original":
        name = image.original_name or f"image-{image.pk}"
        if request.GET.get("xmp") == "1":
            return _original_with_xmp(request, image, name)
        return stored_file_response(
            image.original,
            filename=name,
            content_type=content_type_for(name=name, image_format=image.format),
        )
    return stored_file_response(
        image.thumbnail,
        filename=f"thumbnail-{image.pk}.jpg",
        content_type="image/jpeg",
    )


def _opt_in_page(
    request: HttpRequest,
    holder: RightsHolder,
    *,
    claim_id: int | None = None,
    work_id: int | None = None,
) -> HttpResponse:
    """Offer a claim's URLs or a work for AI training on terms, change the
    terms, or withdraw the offer."""
    if claim_id is not None:
        target: Claim | Work | None = selectors.claim_get_for_owner(
            owner=holder, claim_id=claim_id
        )
        back = "claims"
    else:
        target = selectors.work_get_for_owner(owner=holder, work_id=work_id)
        back = "works"
    if target is None:
        raise Http404("not found")
    ids = {"claim_id": claim_id} if claim_id is not None else {"work_id": work_id}
    offer = opt_in_for(target)
    form = OptInForm(initial=offer.terms if offer else {"payment": "attribution"})
    if request.method == "POST":
        try:
            if request.POST.get("action") == "end":
                opt_in_end(owner=holder, **ids)
                messages.success(request, "Withdrawn: it refuses AI training again.")
                return redirect(request.path)
            form = OptInForm(request.POST)
            if form.is_valid():
                opt_in_set(owner=holder, **ids, **form.cleaned_data)
                messages.success(
                    request,
                    "Offered for AI training on your terms from the registry's "
                    "next revision on.",
                )
                return redirect(request.path)
        except DomainError as exc:
            add_domain_error(form, exc)
    return render(
        request,
        "registry/opt_in.html",
        {"target": target, "offer": offer, "form": form, "back": back},
    )


@artist_required
def claim_opt_in(
    request: HttpRequest, holder: RightsHolder, claim_id: int
) -> HttpResponse:
    return _opt_in_page(request, holder, claim_id=claim_id)


@artist_required
def work_opt_in(
    request: HttpRequest, holder: RightsHolder, work_id: int
) -> HttpResponse:
    return _opt_in_page(request, holder, work_id=work_id)
