"""agreement_request: authentication, term rules, duplicates, what it writes."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from affirmations import services
from affirmations.models import (
    Agreement,
    AgreementLink,
    AgreementPremise,
    AgreementStatus,
    Record,
    RecordEvent,
)
from csp_registry.models import CspStatus
from monitoring.models import PremiseAuthenticationAttempt
from outbox.models import OutboundEmail
from premises.models import TermPolicy
from smt_portal.actors import Actor
from smt_portal.sealed_tokens import tokens_in
from tests.factories import make_csp

from .conftest import (
    DEADLINE,
    NOW,
    large_commercial,
    request_agreement,
    residential,
    small_commercial,
)

pytestmark = pytest.mark.django_db


def test_a_request_creates_a_pending_agreement_with_its_deadline_premises_and_link(active_csp):
    home, shop = residential(), large_commercial()

    agreement = request_agreement(active_csp, home, shop, term_months=6)

    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.PENDING_AFFIRMATION
    assert agreement.created_at == NOW
    assert agreement.affirmation_expires_at == DEADLINE
    assert agreement.max_term_months == 12
    assert len(agreement.confirmation_code) == 8
    assert set(agreement.confirmation_code) <= set(services.CONFIRMATION_ALPHABET)
    premises = {p.esi_id: p for p in agreement.premises.all()}
    assert premises[home.esi_id].large_commercial is False
    assert premises[shop.esi_id].large_commercial is True
    assert premises[shop.esi_id].service_address == shop.service_address
    assert all(p.is_open and p.csp_id == active_csp.pk for p in premises.values())
    link = AgreementLink.objects.get(agreement=agreement)
    assert link.expires_at == DEADLINE
    assert len(link.token_hash) == 64


def test_a_request_queues_one_affirmation_email_and_records_creation_and_email(active_csp):
    agreement = request_agreement(active_csp, residential())

    email = OutboundEmail.objects.get()
    assert (email.kind, email.to_address) == ("affirmation_request", "jane.customer@example.com")
    assert email.related_label == f"agreement:{agreement.pk}"
    records = list(Record.objects.filter(agreement=agreement).order_by("id"))
    assert [r.event for r in records] == [RecordEvent.REQUEST_CREATED, RecordEvent.EMAIL_QUEUED]
    assert records[0].actor == f"{active_csp.pk}:abcd1234"
    assert records[0].ip == "203.0.113.9"
    assert records[0].details["to_status"] == "pending_affirmation"
    assert records[0].details["customer_email"] == "j***@example.com"
    assert records[1].details["email_id"] == email.pk


def test_the_link_token_is_never_stored_only_its_hash(active_csp):
    agreement = request_agreement(active_csp, residential())

    email = OutboundEmail.objects.get()
    assert "/affirm/[[sealed:affirmation:" in email.body_text  # no token at rest
    [token] = tokens_in(email.body_text)
    assert token not in email.body_text + email.body_html
    assert len(token) >= 43  # 256 bits, base64url
    link = AgreementLink.objects.get(agreement=agreement)
    assert link.token_hash == services.link_token_hash(token)
    assert services.agreement_link_find(token=token) == link
    assert services.agreement_link_find(token=link.token_hash) is None


@pytest.mark.parametrize(
    ("kind", "term", "allowed"),
    [
        (residential, 12, True),
        (residential, 13, False),
        (small_commercial, 13, False),
        (large_commercial, 36, True),
        (large_commercial, 37, False),
    ],
)
def test_term_limits_follow_the_premise_class(active_csp, kind, term, allowed):
    premise = kind()
    if allowed:
        assert request_agreement(active_csp, premise, term_months=term).term_months == term
        return
    with pytest.raises(services.TermExceedsLimit) as refused:
        request_agreement(active_csp, premise, term_months=term)
    assert refused.value.maximum == (36 if kind is large_commercial else 12)
    assert not Agreement.objects.exists()


def test_several_large_commercial_premises_may_agree_to_36_months(active_csp):
    agreement = request_agreement(
        active_csp, large_commercial(), large_commercial(), term_months=36
    )
    assert agreement.max_term_months == 36


def test_one_non_large_premise_limits_the_whole_agreement_to_the_policy(active_csp):
    with pytest.raises(services.TermExceedsLimit) as refused:
        request_agreement(active_csp, large_commercial(), residential(), term_months=13)
    assert refused.value.maximum == 12
    assert request_agreement(active_csp, large_commercial(), residential()).max_term_months == 12


def test_the_policy_limit_is_read_from_the_database(active_csp):
    TermPolicy.objects.update_or_create(pk=1, defaults={"standard_max_months": 24})
    assert request_agreement(active_csp, residential(), term_months=24).max_term_months == 24


def test_changing_the_policy_never_changes_an_agreement_already_made(active_csp):
    agreement = request_agreement(active_csp, residential(), term_months=12)
    TermPolicy.objects.update_or_create(pk=1, defaults={"standard_max_months": 6})

    agreement.refresh_from_db()
    assert (agreement.term_months, agreement.max_term_months) == (12, 12)
    assert agreement.premises.get().large_commercial is False
    with pytest.raises(services.TermExceedsLimit):
        request_agreement(active_csp, residential(), term_months=12)


def test_failed_authentication_names_premise_indexes_only_and_creates_nothing(active_csp):
    good, bad = residential(), residential()
    triples = [
        (good.esi_id, good.meters.get().number, "10004"),
        (bad.esi_id, "999999999", "10004"),
    ]
    with pytest.raises(services.AuthenticationFailed) as refused:
        services.agreement_request(
            csp=active_csp,
            premises=triples,
            customer_email="a@example.com",
            term_months=1,
            language="en",
            actor=Actor.system(),
            now=NOW,
        )
    assert refused.value.indexes == [1]
    assert "meter" not in refused.value.message.lower()
    assert not Agreement.objects.exists()
    assert not OutboundEmail.objects.exists()
    # Every attempt stays recorded for monitoring (R18).
    assert PremiseAuthenticationAttempt.objects.count() == 2


def test_a_second_open_request_for_the_same_esi_id_is_a_duplicate(active_csp):
    premise = residential()
    request_agreement(active_csp, premise)

    with pytest.raises(services.DuplicateAgreement) as refused:
        request_agreement(active_csp, residential(), premise)
    assert refused.value.esi_ids == [premise.esi_id]
    assert Agreement.objects.count() == 1


def test_another_csp_may_ask_for_the_same_esi_id(active_csp, other_csp):
    premise = residential()
    request_agreement(active_csp, premise)
    assert request_agreement(other_csp, premise).csp == other_csp


def test_the_database_itself_refuses_two_open_agreements_per_csp_and_premise(active_csp):
    premise = residential()
    first = request_agreement(active_csp, premise)
    second = Agreement.objects.create(
        csp=active_csp,
        customer_email="x@example.com",
        term_months=1,
        max_term_months=12,
        confirmation_code="ABCDEFGH",
        created_at=NOW,
        affirmation_expires_at=DEADLINE,
    )
    row = first.premises.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        AgreementPremise.objects.create(
            agreement=second,
            premise=premise,
            csp=active_csp,
            esi_id=premise.esi_id,
            service_address="",
            large_commercial=False,
            is_open=True,
        )
    # A closed row does not count.
    AgreementPremise.objects.filter(pk=row.pk).update(is_open=False)
    AgreementPremise.objects.create(
        agreement=second,
        premise=premise,
        csp=active_csp,
        esi_id=premise.esi_id,
        service_address="",
        large_commercial=False,
        is_open=True,
    )


@pytest.mark.parametrize(
    "status", [CspStatus.SUSPENDED, CspStatus.REVOKED, CspStatus.PENDING_REVIEW]
)
def test_a_csp_that_is_not_active_cannot_start_a_request(status):
    csp = make_csp(status=status)
    with pytest.raises(services.CspNotActive):
        request_agreement(csp, residential())
    assert not Agreement.objects.exists()


def test_a_csp_suspended_after_loading_is_refused_by_the_locked_re_read(active_csp):
    premise = residential()
    active_csp.__class__.objects.filter(pk=active_csp.pk).update(status=CspStatus.SUSPENDED)
    # The caller's copy still says active; the row inside the transaction does not.
    with pytest.raises(services.CspNotActive):
        request_agreement(active_csp, premise)
    assert not Agreement.objects.exists()


@pytest.mark.parametrize(
    "premises_count",
    [0, services.MAX_PREMISES + 1],
)
def test_the_number_of_premises_is_bounded(active_csp, premises_count):
    with pytest.raises(ValueError, match="1 to 200"):
        services.agreement_request(
            csp=active_csp,
            premises=[("1044372", "1", "10004")] * premises_count,
            customer_email="a@example.com",
            term_months=1,
            language="en",
            actor=Actor.system(),
            now=NOW,
        )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real concurrent writers")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_for_one_esi_id_let_exactly_one_win(active_csp):
    premise = residential()
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt():
        try:
            barrier.wait()
            request_agreement(active_csp, premise, email="racer@example.com")
            outcomes.append("created")
        except services.DuplicateAgreement:
            outcomes.append("duplicate")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["created", "duplicate"]
    assert AgreementPremise.objects.filter(premise=premise, is_open=True).count() == 1
    assert Agreement.objects.count() == 1
