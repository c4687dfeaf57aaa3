"""Agreement events for CSPs: the agreement as the API shows it, at the moment it changed.

Every status change of an agreement emits exactly one event (through
``affirmations.transitions``); renewals emit theirs here. The payload is the
API's own representation (``AgreementOutput``), so a webhook, the event feed
and ``GET /api/v1/agreements/{id}/`` never disagree — masked email included.
"""

from django.db import connection
from django.db.models import Prefetch

from csp_registry.events import EventDraft, events_emit, events_emit_select
from csp_registry.models import EventType

from .delivery import with_affirmation_email_status
from .event_sql import agreement_events_select
from .models import Agreement, AgreementStatus, RecordEvent, Renewal

# A chunk's agreements are loaded with what the representation needs in four
# queries, whatever the chunk's size.
EVENT_CHUNK = 2000
# On PostgreSQL the database writes the payloads (``event_sql``): one
# INSERT … SELECT per this many agreements.
SQL_EVENT_CHUNK = 50_000

EVENT_OF_RECORD = {
    RecordEvent.OPTED_IN: EventType.AGREEMENT_AFFIRMED,
    RecordEvent.OPTED_OUT: EventType.AGREEMENT_OPTED_OUT,
    RecordEvent.REPORTED_SPAM: EventType.AGREEMENT_REPORTED_SPAM,
    RecordEvent.TIMED_OUT: EventType.AGREEMENT_TIMED_OUT,
    RecordEvent.TERMINATED: EventType.AGREEMENT_TERMINATED,
    RecordEvent.REVOKED: EventType.AGREEMENT_REVOKED,
    RecordEvent.TERM_ENDED: EventType.AGREEMENT_TERM_ENDED,
    RecordEvent.RENEWED: EventType.AGREEMENT_RENEWED,
    RecordEvent.RENEWAL_DECLINED: EventType.RENEWAL_DECLINED,
}

# The status each agreement event leaves the agreement in (renewals keep it active).
STATUS_OF_EVENT = {
    EventType.AGREEMENT_AFFIRMED: AgreementStatus.ACTIVE,
    EventType.AGREEMENT_OPTED_OUT: AgreementStatus.OPTED_OUT,
    EventType.AGREEMENT_REPORTED_SPAM: AgreementStatus.REPORTED_SPAM,
    EventType.AGREEMENT_TIMED_OUT: AgreementStatus.TIMED_OUT,
    EventType.AGREEMENT_TERMINATED: AgreementStatus.TERMINATED,
    EventType.AGREEMENT_REVOKED: AgreementStatus.REVOKED,
    EventType.AGREEMENT_TERM_ENDED: AgreementStatus.TERM_ENDED,
}


def agreements_for_representation(ids):
    return with_affirmation_email_status(
        Agreement.objects.filter(pk__in=ids)
        .prefetch_related("premises", Prefetch("renewals", Renewal.objects.order_by("pk")))
        .order_by("pk")
    )


def agreement_representation(agreement) -> dict:
    """The agreement exactly as the API shows it (JSON-ready)."""
    from .api.serializers import AgreementOutput  # the API's shape is the one shape

    return dict(AgreementOutput(agreement).data)


def agreement_events_emit(*, agreement_ids, record_event, now):
    """One event per agreement, in the caller's transaction; set-based for sweeps.

    On PostgreSQL the payloads are built by the database from the rows just
    written (``event_sql``, held equal to ``agreement_representation`` by a
    test); elsewhere in Python, a chunk at a time.
    """
    event_type = EVENT_OF_RECORD[record_event]
    ids = sorted(agreement_ids)
    if connection.vendor == "postgresql":
        for start in range(0, len(ids), SQL_EVENT_CHUNK):
            sql, params = agreement_events_select(
                agreement_ids=ids[start : start + SQL_EVENT_CHUNK], event_type=event_type
            )
            events_emit_select(select_sql=sql, params=params, now=now)
        return
    for start in range(0, len(ids), EVENT_CHUNK):
        agreements = agreements_for_representation(ids[start : start + EVENT_CHUNK])
        events_emit(
            drafts=[
                EventDraft(
                    csp_id=agreement.csp_id,
                    type=event_type,
                    agreement_id=agreement.pk,
                    data={"agreement": agreement_representation(agreement)},
                    sandbox=agreement.sandbox,
                )
                for agreement in agreements
            ],
            now=now,
        )
