"""The account's data pages for one of its premises: who read the data (the
data-access log) and Download My Data, in the API's own formats.

A premise that is not one of the signed-in account's open links is not found,
whoever else's it may be.
"""

from django import forms
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from affirmations.views import private
from data_access import formats
from data_access.models import DataFormat, DataKind
from data_access.services import MAX_DAYS
from smt_portal.calendar import date_in_words

from . import data_services
from .access import customer_required

READS_PER_PAGE = 50
DATE_FORMATS = ["%Y-%m-%d"]


def _link_or_404(request, premise_id):
    link = data_services.premise_link_find(user=request.user, premise_id=premise_id)
    if link is None:
        raise Http404
    return link


@private
@customer_required
@require_safe
def premise_reads(request, premise_id):
    """``/account/premises/<id>/reads/``: which CSP read which data, when."""
    link = _link_or_404(request, premise_id)
    paginator = Paginator(data_services.premise_reads(link=link), READS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/data_reads.html",
        {
            "link": link,
            "premise": link.premise,
            "since": data_services.occupancy_first_day(link),
            "page": page,
            "by_csp": data_services.premise_reads_by_csp_month(link=link),
            "refused": data_services.premise_reads_refused_count(link=link),
        },
    )


class DownloadForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What"),
        widget=forms.RadioSelect,
        choices=[
            (DataKind.INTERVALS, _("15-minute usage")),
            (DataKind.DAILY, _("Daily usage")),
            (DataKind.MONTHLY, _("Monthly usage")),
        ],
    )
    format = forms.ChoiceField(
        label=_("Format"),
        widget=forms.RadioSelect,
        choices=[
            (DataFormat.CSV, _("CSV (a spreadsheet)")),
            (DataFormat.ESPI, _("Green Button XML")),
        ],
    )
    start = forms.DateField(
        label=_("First day"), input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )  # fmt: skip
    end = forms.DateField(
        label=_("Last day"), input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )  # fmt: skip

    MESSAGES = {
        "before": _("Your data begins on %(first)s, when you moved in; choose that day or later."),
        "after": _("Choose today, %(last)s, or an earlier day."),
        "reversed": _("The last day is before the first day."),
        "too_long": _("At most %(days)s days at a time; download the rest separately."),
    }

    def __init__(self, *args, window, **kwargs):
        super().__init__(*args, **kwargs)
        self.window = window
        for name in ("start", "end"):
            widget = self.fields[name].widget
            widget.attrs.update(min=window.first.isoformat(), max=window.last.isoformat())
            widget.attrs["aria-describedby"] = "range-help"

    def clean(self):
        data = super().clean()
        if "start" in data and "end" in data:
            language = translation.get_language()
            words = {
                "first": date_in_words(self.window.first, language),
                "last": date_in_words(self.window.last, language),
                "days": MAX_DAYS,
            }
            for field, problem in self.window.errors(data["start"], data["end"]).items():
                self.add_error(field, self.MESSAGES[problem] % words)
        for name in ("start", "end"):
            if name in self.errors:
                # The error is read with the field, not only seen beside it.
                attrs = self.fields[name].widget.attrs
                attrs["aria-describedby"] = f"range-help id_{name}-error"
                attrs["aria-invalid"] = "true"
        return data


@private
@customer_required
@require_safe
def premise_download(request, premise_id):
    """``/account/premises/<id>/download/``: the form, or (with its fields) the file."""
    link = _link_or_404(request, premise_id)
    window = data_services.download_window(link=link, now=timezone.now())
    asked = {key for key in ("kind", "format", "start", "end") if key in request.GET}
    if not asked:
        start, end = window.default_range()
        form = DownloadForm(
            window=window,
            initial={"kind": DataKind.DAILY, "format": DataFormat.CSV, "start": start, "end": end},
        )
        return _download_page(request, link, window, form)
    form = DownloadForm(request.GET, window=window)
    if not form.is_valid():
        return _download_page(request, link, window, form, status=400)
    asked = form.cleaned_data
    esi_id = link.premise.esi_id
    read = formats.UsageRead(
        kind=asked["kind"], premise_id=link.premise_id, start=asked["start"], end=asked["end"]
    )
    chunks = read.chunks(
        format=asked["format"], esi_id=esi_id, feed_url=request.build_absolute_uri(),
        now=timezone.now(),
    )  # fmt: skip
    response = StreamingHttpResponse(
        (chunk.encode() for chunk in chunks), content_type=formats.MEDIA_TYPES[asked["format"]]
    )
    name = formats.attachment_name(esi_id=esi_id, kind=asked["kind"], format=asked["format"],
                                   start=asked["start"], end=asked["end"])  # fmt: skip
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _download_page(request, link, window, form, status=200):
    return render(
        request,
        "accounts/data_download.html",
        {
            "link": link,
            "premise": link.premise,
            "window": window,
            "form": form,
            "max_days": MAX_DAYS,
            "empty": window.first > window.last,
        },
        status=status,
    )
