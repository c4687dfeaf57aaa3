"""The customer's page of who read their data: every read the agreement's CSP
made under it, reached from the same emailed link as "stop sharing"."""

from django.shortcuts import render
from django.views.decorators.http import require_safe

from affirmations.language import page_language
from affirmations.views import current_link, link_not_found, private

from .services import data_reads_of_agreement

READS_SHOWN = 200


@private
@require_safe
def data_reads_page(request):
    link = current_link(request, "termination")
    if link is None:
        return link_not_found(request)
    agreement = link.agreement
    page_language(request, agreement)
    reads = data_reads_of_agreement(agreement, limit=READS_SHOWN + 1)
    return render(
        request,
        "data_access/reads_page.html",
        {
            "agreement": agreement,
            "csp": agreement.csp,
            "reads": reads[:READS_SHOWN],
            "more": len(reads) > READS_SHOWN,
            "shown": READS_SHOWN,
        },
    )
