"""The admin home's banner of open red flags (``templates/admin/index.html``)."""

from django import template
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.http import urlencode

from monitoring.models import FlagStatus, RedFlag, Severity

register = template.Library()


@register.inclusion_tag("admin/monitoring/open_flags_banner.html", takes_context=True)
def open_flags_banner(context):
    """The number of open flags and of high ones, each linking to the list filtered
    on them; only for staff who may view flags. One query."""
    request = context.get("request")
    if request is None or not request.user.has_perm("monitoring.view_redflag"):
        return {"shown": False}
    counts = RedFlag.objects.filter(status=FlagStatus.OPEN).aggregate(
        open=Count("pk"), high=Count("pk", filter=Q(severity=Severity.HIGH))
    )
    flags = reverse("admin:monitoring_redflag_changelist")
    only_open = {"status__exact": FlagStatus.OPEN}
    return {
        "shown": True,
        **counts,
        "open_url": f"{flags}?{urlencode(only_open)}",
        "high_url": f"{flags}?{urlencode(only_open | {'severity__exact': Severity.HIGH})}",
    }
