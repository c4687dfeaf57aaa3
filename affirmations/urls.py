"""Customer pages reached from emails, and the development outbox."""

from django.conf import settings
from django.urls import path

from . import dev_views, views

app_name = "affirmations"

urlpatterns = [
    path("affirm/", views.affirmation_page, name="affirmation"),
    path("affirm/opt-in/", views.affirmation_opt_in, name="opt-in"),
    path("affirm/opt-out/", views.affirmation_opt_out, name="opt-out"),
    path("affirm/report-spam/", views.affirmation_report_spam, name="report-spam"),
    path("affirm/stop/", views.affirmation_stop, name="affirmation-stop"),
    path("affirm/<path:token>/", views.affirmation_link, name="affirm"),
    path("renew/", views.renewal_page, name="renewal"),
    path("renew/confirm/", views.renewal_renew, name="renew-confirm"),
    path("renew/decline/", views.renewal_decline, name="renew-decline"),
    path("renew/stop/", views.renewal_stop, name="renewal-stop"),
    path("renew/<path:token>/", views.renewal_link, name="renew"),
    path("end/", views.termination_page, name="termination"),
    path("end/confirm/", views.termination_confirm, name="end-confirm"),
    path("end/<path:token>/", views.termination_link, name="end"),
    # Development only: each view answers 404 unless settings.DEBUG is on.
    path("dev/outbox/", dev_views.outbox_list, name="dev-outbox"),
    path("dev/outbox/<int:email_id>/", dev_views.outbox_email, name="dev-outbox-email"),
]

if settings.BENCH_FLOOR_ENDPOINT:
    # bench/bench_agreements.py's floor: the same writes, nothing else; never in production.
    from .api.bench_floor import bench_floor_agreement

    urlpatterns.append(path("bench-floor/agreements/", bench_floor_agreement))
