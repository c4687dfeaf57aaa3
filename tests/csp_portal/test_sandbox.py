"""The sandbox (glossary "Sandbox"): test keys act only on the published sandbox
premises and sandbox agreements, the customer's answer is scripted by its address,
no email leaves, and the API docs' quick start takes exactly five calls."""

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from affirmations.models import Agreement, AgreementStatus
from affirmations.sandbox import ANSWER_AFTER, sandbox_answers_run
from csp_registry.keys import split_key
from csp_registry.services import csp_issue_key
from outbox.models import EmailStatus, OutboundEmail
from premises.models import Premise
from premises.sandbox import SANDBOX_DAYS, SANDBOX_PREMISES
from smt_portal.settings import SPECTACULAR_SETTINGS
from tests.affirmations.conftest import NOW, request_agreement, residential
from tests.personas import api_client_for

pytestmark = pytest.mark.django_db

FIRST = SANDBOX_PREMISES[0]
FACTS = {
    "esi_id": FIRST.esi_id,
    "meter_number": FIRST.meter_number,
    "rep_certificate_number": FIRST.rep_certificate_number,
}


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def disclosure(db):
    from affirmations.models import Disclosure
    from affirmations.services import disclosure_current

    return disclosure_current() or Disclosure.objects.create(
        version=1, text_en="You share usage data.", text_es="Usted comparte datos de consumo.",
        published_at=NOW,
    )  # fmt: skip


@pytest.fixture
def sandbox_seeded(settings, frozen):
    settings.SANDBOX_SEED = True
    call_command("seed_reference_data", stdout=open("/dev/null", "w"))  # noqa: SIM115


def sandbox_client(csp):
    _, key = csp_issue_key(csp=csp, now=timezone.now(), name="sandbox", sandbox=True)
    return api_client_for(csp, key)


def create(client, email, facts=FACTS):
    return client.post(
        "/api/v1/agreements/",
        {"premises": [facts], "customer_email": email, "term_months": 12},
        format="json",
    )


def test_the_api_docs_publish_every_sandbox_premise():
    for p in SANDBOX_PREMISES:
        row = f"| {p.esi_id} | {p.meter_number} | {p.rep_certificate_number} | {p.customer_class} |"
        assert row in SPECTACULAR_SETTINGS["DESCRIPTION"]


def test_a_sandbox_key_reads_smt_test_and_is_recognised_by_its_prefix(active_csp):
    api_key, full_key = csp_issue_key(csp=active_csp, now=timezone.now(), sandbox=True)
    assert full_key.startswith(f"smt_test_{api_key.prefix}_")
    assert split_key(full_key) == api_key.prefix
    assert api_key.sandbox


def test_seed_reference_data_creates_the_published_sandbox_premises_with_readings(
    sandbox_seeded,
):
    premises = Premise.objects.filter(sandbox=True)
    assert sorted(p.esi_id for p in premises) == sorted(p.esi_id for p in SANDBOX_PREMISES)
    assert premises.first().interval_days.count() == SANDBOX_DAYS
    # Run again: nothing new, nothing lost.
    call_command("seed_reference_data", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Premise.objects.filter(sandbox=True).count() == len(SANDBOX_PREMISES)


def test_a_sandbox_key_authenticates_sandbox_premises_and_a_live_key_does_not(
    sandbox_seeded, active_csp, csp_api
):
    live_premise = residential()
    live_facts = {
        "esi_id": live_premise.esi_id,
        "meter_number": live_premise.meters.get().number,
        "rep_certificate_number": live_premise.rep_of_record.certificate_number,
    }
    sandbox = sandbox_client(active_csp)

    def check(client, facts):
        return client.post("/api/v1/premise-authentications/", facts, format="json").json()

    assert check(sandbox, FACTS)["authenticated"] is True
    assert check(csp_api, FACTS) == {"authenticated": False}
    assert check(sandbox, live_facts) == {"authenticated": False}
    assert check(csp_api, live_facts)["authenticated"] is True


def test_live_keys_never_see_sandbox_agreements_and_sandbox_keys_never_see_live_ones(
    sandbox_seeded, active_csp, csp_api
):
    live = request_agreement(active_csp, residential())
    sandbox = sandbox_client(active_csp)
    made = create(sandbox, "no-answer@sandbox.smt-portal.example")
    assert made.status_code == 201, made.json()
    sandbox_id = made.json()["id"]
    assert Agreement.objects.get(pk=sandbox_id).sandbox

    assert [a["id"] for a in sandbox.get("/api/v1/agreements/").json()["results"]] == [sandbox_id]
    assert [a["id"] for a in csp_api.get("/api/v1/agreements/").json()["results"]] == [live.pk]
    assert csp_api.get(f"/api/v1/agreements/{sandbox_id}/").status_code == 404
    assert sandbox.get(f"/api/v1/agreements/{live.pk}/").status_code == 404
    assert sandbox.post(f"/api/v1/agreements/{live.pk}/reminders/").status_code == 404


def test_a_sandbox_key_asks_only_the_scripted_addresses(sandbox_seeded, active_csp):
    response = create(sandbox_client(active_csp), "jane.customer@example.com")
    assert response.status_code == 400
    assert "customer_email" in response.json()["error"]["fields"]
    assert not Agreement.objects.exists()


def test_no_email_of_a_sandbox_agreement_is_sent(
    sandbox_seeded, active_csp, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        made = create(sandbox_client(active_csp), "opt-out@sandbox.smt-portal.example")
    assert made.status_code == 201
    emails = OutboundEmail.objects.filter(to_address="opt-out@sandbox.smt-portal.example")
    assert emails.exists()
    assert all(e.status == EmailStatus.SENT and "sandbox" in e.last_error for e in emails)
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("address", "status", "at_once"),
    [
        ("opt-in", AgreementStatus.ACTIVE, False),
        ("opt-out", AgreementStatus.OPTED_OUT, False),
        ("spam", AgreementStatus.REPORTED_SPAM, False),
        ("no-answer", AgreementStatus.TIMED_OUT, True),
    ],
)
def test_the_scripted_customer_answers_by_address(
    sandbox_seeded, active_csp, disclosure, address, status, at_once
):
    made = create(sandbox_client(active_csp), f"{address}@sandbox.smt-portal.example")
    agreement = Agreement.objects.get(pk=made.json()["id"])

    sandbox_answers_run(now=NOW)
    agreement.refresh_from_db()
    expected_now = status if at_once else AgreementStatus.PENDING_AFFIRMATION
    assert agreement.status == expected_now

    sandbox_answers_run(now=NOW + ANSWER_AFTER)
    agreement.refresh_from_db()
    assert agreement.status == status


def test_the_script_never_answers_a_live_agreement(active_csp, disclosure, frozen):
    live = request_agreement(active_csp, residential(), email="opt-in@sandbox.smt-portal.example")
    assert sandbox_answers_run(now=NOW + timedelta(hours=1)) == 0
    live.refresh_from_db()
    assert live.status == AgreementStatus.PENDING_AFFIRMATION


def test_the_quick_start_goes_from_a_sandbox_key_to_an_affirmed_agreement_and_its_data(
    sandbox_seeded, active_csp, disclosure, frozen
):
    """Exactly the five calls of the API docs' quick start, as printed there."""
    quick_start = SPECTACULAR_SETTINGS["DESCRIPTION"]
    calls = re.findall(r"^\d\. `(GET|POST) (/api/v1/[^`]*)`", quick_start, flags=re.M)
    assert len(calls) == 5, calls
    client = sandbox_client(active_csp)
    day = (NOW - timedelta(days=3)).date().isoformat()
    agreement_id = None
    answers = []
    for method, path in calls:
        if agreement_id is not None:
            path = path.replace("{id}", str(agreement_id))
        path = path.replace("{day}", day)
        if method == "POST" and path.endswith("/premise-authentications/"):
            response = client.post(path, FACTS, format="json")
        elif method == "POST":
            response = create(client, "opt-in@sandbox.smt-portal.example")
            agreement_id = response.json()["id"]
            # "After a few seconds" the scripted customer opts in.
            frozen.shift(ANSWER_AFTER)
            sandbox_answers_run(now=timezone.now())
        else:
            response = client.get(path)
        answers.append(response)
        assert response.status_code in (200, 201), (path, response.content)

    assert answers[0].json()["authenticated"] is True
    assert answers[1].json()["status"] == AgreementStatus.PENDING_AFFIRMATION
    assert answers[2].json()["status"] == AgreementStatus.ACTIVE
    events = [event["type"] for event in answers[3].json()["events"]]
    assert "agreement.affirmed" in events
    data = b"".join(answers[4].streaming_content) if answers[4].streaming else answers[4].content
    [read] = json.loads(data)["days"]
    assert read["date"] == day and len(read["kwh"]) == 96


@pytest.mark.parametrize("sandbox", [True, False])
def test_a_sandbox_storm_raises_no_flag_where_the_same_live_storm_does(active_csp, sandbox):
    from affirmations.models import RecordEvent
    from monitoring.models import RedFlag
    from tests.monitoring.conftest import NOW as MONITORING_NOW
    from tests.monitoring.conftest import decide, make_agreement, run_detectors

    with time_machine.travel(MONITORING_NOW, tick=False):
        address = "opt-in@sandbox.smt-portal.example"
        for event, count in [(RecordEvent.OPTED_IN, 30), (RecordEvent.REPORTED_SPAM, 20)]:
            for _ in range(count):
                agreement = make_agreement(active_csp, email=address, sandbox=sandbox)
                decide(agreement, event, ip="198.51.100.10")
        run_detectors("rejections")

    flags = RedFlag.objects.filter(csp=active_csp)
    assert (flags.count() == 0) is sandbox, list(flags.values_list("detector", flat=True))


def test_the_event_feed_of_a_live_key_has_no_sandbox_event_and_the_reverse(
    sandbox_seeded, active_csp, csp_api, disclosure
):
    sandbox = sandbox_client(active_csp)
    made = create(sandbox, "opt-in@sandbox.smt-portal.example")
    sandbox_answers_run(now=NOW + ANSWER_AFTER)
    live = request_agreement(active_csp, residential(), email="jane.customer@example.com")
    live_agreement = Agreement.objects.get(pk=live.pk)
    from affirmations.services import agreement_opt_out
    from smt_portal.actors import Actor

    agreement_opt_out(agreement=live_agreement, actor=Actor.customer(), now=NOW)

    def agreement_ids(client):
        events = client.get("/api/v1/events/").json()["events"]
        return {event["data"]["agreement"]["id"] for event in events}

    assert agreement_ids(sandbox) == {made.json()["id"]}
    assert agreement_ids(csp_api) == {live.pk}


def test_a_sandbox_request_schedules_its_scripted_answer_after_commit(
    sandbox_seeded, active_csp, disclosure, django_capture_on_commit_callbacks
):
    # Tasks run inline in tests (no countdown): the answer comes with the commit.
    with django_capture_on_commit_callbacks(execute=True):
        made = create(sandbox_client(active_csp), "spam@sandbox.smt-portal.example")
    assert Agreement.objects.get(pk=made.json()["id"]).status == AgreementStatus.REPORTED_SPAM


def test_the_periodic_job_answers_what_a_lost_task_did_not(sandbox_seeded, active_csp, frozen):
    from affirmations.tasks import answer_sandbox_requests

    made = create(sandbox_client(active_csp), "opt-out@sandbox.smt-portal.example")
    frozen.shift(ANSWER_AFTER)
    assert answer_sandbox_requests() == {"sandbox_answered": 1}
    assert Agreement.objects.get(pk=made.json()["id"]).status == AgreementStatus.OPTED_OUT


@pytest.mark.parametrize("kind", ["interval-data", "daily-usage", "monthly-usage"])
def test_every_data_endpoint_serves_a_sandbox_premise_to_its_sandbox_agreement_only(
    sandbox_seeded, active_csp, csp_api, disclosure, kind
):
    made = create(sandbox_client(active_csp), "opt-in@sandbox.smt-portal.example")
    sandbox_answers_run(now=NOW + ANSWER_AFTER)
    agreement_id = made.json()["id"]
    day = (NOW - timedelta(days=3)).date().isoformat()
    path = f"/api/v1/agreements/{agreement_id}/{kind}/?esi_id={FIRST.esi_id}&start={day}&end={day}"
    if kind == "monthly-usage":
        month = (NOW - timedelta(days=40)).date().replace(day=1).isoformat()
        path = path.replace(f"start={day}&end={day}", f"start={month}&end={month}")

    sandbox = sandbox_client(active_csp)
    assert sandbox.get(path).status_code == 200
    assert csp_api.get(path).status_code == 404
