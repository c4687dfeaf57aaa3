"""A request's rows written together (issue 16, H35): ``rows_insert`` writes
every column as the ORM's own INSERT would, and gives each row its id."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from affirmations.lifecycle.requests import rows_insert
from affirmations.models import Agreement, AgreementLink, AgreementPremise, AgreementStatus
from outbox.models import OutboundEmail

from .conftest import NOW, residential

pytestmark = pytest.mark.django_db


def _rows(csp, premises, *, code):
    agreement = Agreement(
        csp=csp,
        status=AgreementStatus.PENDING_AFFIRMATION,
        customer_email="jane@example.com",
        language="es",
        term_months=12,
        max_term_months=36,
        renewal_window_days=30,
        confirmation_code=code,
        created_at=NOW,
        affirmation_sent_at=NOW,
        affirmation_expires_at=NOW + timedelta(days=7),
    )
    return agreement, premises


def _dependents(agreement, premises, csp, token_hash, *, is_open=True):
    rows = [
        AgreementPremise(
            agreement=agreement, premise=premise, csp=csp, esi_id=premise.esi_id,
            service_address=premise.service_address, large_commercial=False, is_open=is_open,
        )
        for premise in premises
    ]  # fmt: skip
    rows.append(
        AgreementLink(
            agreement=agreement, purpose="affirmation", token_hash=token_hash,
            created_at=NOW, expires_at=agreement.affirmation_expires_at,
        )
    )  # fmt: skip
    rows.append(
        OutboundEmail(
            kind="affirmation_request", language="es", to_address="jane@example.com",
            subject="¿Compartir?", body_text="Hola\n", body_html="<p>Hola</p>",
            next_attempt_at=NOW, created_at=NOW, deliver_until=NOW + timedelta(days=7),
            related_label=f"agreement:{agreement.pk}",
        )
    )  # fmt: skip
    return rows


def _stored(row):
    fresh = type(row).objects.get(pk=row.pk)
    return {
        field.attname: getattr(fresh, field.attname)
        for field in type(row)._meta.concrete_fields
        if not field.primary_key and not field.is_relation
    }


def test_rows_written_together_are_the_rows_the_orm_writes(active_csp):
    premises = [residential(), residential(), residential()]
    by_orm, _ = _rows(active_csp, premises, code="ABCDEFGH")
    by_orm.save()
    # (closed: one open agreement per premise and provider)
    orm_rows = _dependents(by_orm, premises, active_csp, "a" * 64, is_open=False)
    for row in orm_rows:
        row.save()

    together, _ = _rows(active_csp, premises, code="HGFEDCBA")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # as the request's lock reserves it
            cursor.execute("SELECT nextval(pg_get_serial_sequence('affirmations_agreement', 'id'))")
            together.pk = cursor.fetchone()[0]
        rows = [together, *_dependents(together, premises, active_csp, "b" * 64)]
    else:
        together.save()
        rows = _dependents(together, premises, active_csp, "b" * 64)
    with CaptureQueriesContext(connection) as queries:
        rows_insert(rows)

    if connection.vendor == "postgresql":
        assert len(queries.captured_queries) == 1
    assert all(row.pk is not None and not row._state.adding for row in rows)
    # Each row got its own id: the premises in the order given.
    written = AgreementPremise.objects.filter(agreement=together).order_by("pk")
    assert [p.esi_id for p in written] == [p.esi_id for p in premises]
    assert [row.pk for row in rows if isinstance(row, AgreementPremise)] == [p.pk for p in written]

    def same(first, second, **differ):
        return {**_stored(first), **differ} == {**_stored(second), **differ}

    assert same(by_orm, together, confirmation_code=None)
    dependents = [row for row in rows if not isinstance(row, Agreement)]
    for orm_row, row in zip(orm_rows, dependents, strict=True):
        assert same(orm_row, row, token_hash=None, related_label=None, is_open=None), row
    assert AgreementLink.objects.get(pk=rows[-2].pk).agreement_id == together.pk
    assert OutboundEmail.objects.get(pk=rows[-1].pk).related_label == f"agreement:{together.pk}"
