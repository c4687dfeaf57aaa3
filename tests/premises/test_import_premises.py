from datetime import date, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from premises import feeds
from premises.models import Meter, Premise
from premises.seed import seed_reference_data

pytestmark = pytest.mark.django_db

HEADER = "esi_id,meter_number,rep_certificate_number,customer_class,service_address"
ONCOR_ID = "10443720001234567"
CENTERPOINT_ID = "1008901023801234567100"
# 21:00 in Houston on 1 March is already 2 March in UTC: installs are dated in Central time.
EVENING_OF_MARCH_1 = datetime(2026, 3, 2, 3, 0, tzinfo=ZoneInfo("UTC"))


@pytest.fixture(autouse=True)
def reference_data():
    seed_reference_data(stdout=StringIO())


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(EVENING_OF_MARCH_1, tick=False) as traveller:
        yield traveller


@pytest.fixture
def feed(tmp_path):
    counter = iter(range(1000))

    def write(*lines, header=HEADER):
        path = tmp_path / f"premises-{next(counter)}.csv"
        path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
        return path

    return write


def run(path, *args):
    out, err = StringIO(), StringIO()
    call_command("import_premises", str(path), *args, stdout=out, stderr=err)
    return out.getvalue()


def refuse(path, *args):
    err = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_premises", str(path), *args, stdout=StringIO(), stderr=err)
    return err.getvalue(), str(raised.value)


def test_a_new_premise_gets_an_active_meter_installed_today_in_central_time(feed):
    output = run(
        feed(
            f"{ONCOR_ID},111222333,10004,residential,1 Main St Dallas TX 75201",
            f"{CENTERPOINT_ID},444555666,10166X,commercial,2 Main St Houston TX 77002",
        )
    )

    premise = Premise.objects.get(esi_id=CENTERPOINT_ID)
    assert premise.tdu.code == "CENTERPOINT"
    assert premise.rep_of_record.certificate_number == "10166X"
    assert premise.customer_class == "commercial"
    meter = premise.meters.get()
    assert (meter.number, meter.installed_on, meter.removed_on) == (
        "444555666",
        date(2026, 3, 1),
        None,
    )
    assert Premise.objects.get(esi_id=ONCOR_ID).tdu.code == "ONCOR"
    assert "2 created, 0 meter exchanges, 0 rep switches, 0 details updated, 0 unchanged" in output


def test_identifiers_are_normalised_as_customers_paste_them(feed):
    run(feed("'1044 372-0001234567,111 222 333,10166x,Residential ,  1 Main   St  "))

    premise = Premise.objects.get()
    assert premise.esi_id == ONCOR_ID
    assert premise.meters.get().number == "111222333"
    assert premise.rep_of_record.certificate_number == "10166X"
    assert (premise.customer_class, premise.service_address) == ("residential", "1 Main St")


def test_importing_the_same_file_again_changes_nothing(feed, clock):
    path = feed(
        f"{ONCOR_ID},111222333,10004,residential,1 Main St",
        f"{CENTERPOINT_ID},444555666,10007,commercial,2 Main St",
    )
    run(path)
    before = list(Premise.objects.values_list("id", "updated_at", "rep_of_record_id"))
    clock.shift(86400)

    output = run(path)

    assert list(Premise.objects.values_list("id", "updated_at", "rep_of_record_id")) == before
    assert Meter.objects.count() == 2
    assert "0 created, 0 meter exchanges, 0 rep switches, 0 details updated, 2 unchanged" in output


def test_a_new_meter_number_is_a_meter_exchange(feed, clock):
    run(feed(f"{ONCOR_ID},111222333,10004,residential,1 Main St"))
    clock.move_to(datetime(2026, 5, 4, 15, 0, tzinfo=ZoneInfo("America/Chicago")))

    output = run(feed(f"{ONCOR_ID},999888777,10004,residential,1 Main St"))

    old, new = Meter.objects.order_by("id")
    assert (old.number, old.removed_on) == ("111222333", date(2026, 5, 4))
    assert (new.number, new.installed_on, new.removed_on) == ("999888777", date(2026, 5, 4), None)
    assert "1 meter exchanges" in output


def test_an_exchange_can_be_dated_with_an_effective_date(feed):
    run(feed(f"{ONCOR_ID},111222333,10004,residential,1 Main St"), "--effective-date", "2026-02-01")

    run(feed(f"{ONCOR_ID},999888777,10004,residential,1 Main St"), "--effective-date", "2026-02-20")

    old, new = Meter.objects.order_by("id")
    assert (old.installed_on, old.removed_on) == (date(2026, 2, 1), date(2026, 2, 20))
    assert new.installed_on == date(2026, 2, 20)


def test_an_exchange_dated_before_the_active_meter_was_installed_is_refused(feed, monkeypatch):
    monkeypatch.setattr(feeds, "CHUNK_SIZE", 1)  # the conflict is in a later chunk
    run(feed(f"{ONCOR_ID},111222333,10004,residential,1 Main St"))

    errors, message = refuse(
        feed(
            f"{CENTERPOINT_ID},444555666,10007,commercial,2 Main St",
            f"{ONCOR_ID},999888777,10004,residential,1 Main St",
        ),
        "--effective-date",
        "2026-02-01",
    )

    assert "line 3: the active meter 111222333 was installed on 2026-03-01" in errors
    assert not Premise.objects.filter(esi_id=CENTERPOINT_ID).exists()
    assert Meter.objects.get().removed_on is None


def test_a_new_certificate_number_is_a_switch_of_rep_of_record(feed):
    run(feed(f"{ONCOR_ID},111222333,10004,residential,1 Main St"))

    output = run(feed(f"{ONCOR_ID},111222333,10007,residential,1 Main St"))

    assert Premise.objects.get().rep_of_record.certificate_number == "10007"
    assert Meter.objects.get().removed_on is None
    assert "0 meter exchanges, 1 rep switches, 0 details updated" in output


def test_a_changed_address_or_class_updates_the_premise(feed, clock):
    run(feed(f"{ONCOR_ID},111222333,10004,residential,1 Main St"))
    clock.shift(60)

    output = run(feed(f"{ONCOR_ID},111222333,10004,commercial,1 Main Street"))

    premise = Premise.objects.get()
    assert (premise.customer_class, premise.service_address) == ("commercial", "1 Main Street")
    assert premise.updated_at > premise.created_at
    assert "1 details updated" in output


def test_a_file_with_bad_rows_is_refused_whole_and_each_bad_row_is_named(feed):
    run(feed(f"{ONCOR_ID},111222333,10004,residential,1 Main St"))
    path = feed(
        f"{ONCOR_ID},999888777,10007,commercial,changed but refused",
        "10443720009999999,123,99999,residential,3 Main St",
        "10089010238012345,123,10004,residential,4 Main St",
        "10443720007777777,123,10004,industrial,5 Main St",
        "10443720006666666,123,10004,residential,  ",
        "1044372000555555X,123,10004,residential,7 Main St",
        "10443720004444444,,10004,residential,8 Main St",
        "10443720003333333,123,10004,residential",
        "'1044372 0001234567,123,10004,residential,duplicate",
        "10999990001234567,123,10004,residential,unknown TDU",
    )

    errors, message = refuse(path)

    lines = errors.splitlines()
    assert lines == [
        "line 3: unknown REP certificate number 99999",
        "line 4: a CenterPoint Energy Houston Electric LLC ESI ID must have 22 digits, not 17",
        "line 5: customer_class must be residential or commercial, not 'industrial'",
        "line 6: service address is empty",
        "line 7: ESI ID must contain only digits",
        "line 8: meter number is empty",
        "line 9: expected 5 fields, found 4",
        f"line 10: ESI ID {ONCOR_ID} appears again (first on line 2)",
        "line 11: ESI ID does not begin with a known TDU prefix",
    ]
    assert "9 problem(s); nothing was imported" in message
    assert Premise.objects.count() == 1
    premise = Premise.objects.get()
    assert (premise.rep_of_record.certificate_number, premise.service_address) == (
        "10004",
        "1 Main St",
    )
    assert Meter.objects.get().number == "111222333"


def test_a_row_reports_all_of_its_faults_at_once(feed):
    errors, _ = refuse(feed("10443720001234567,,99999,industrial,"))

    assert errors.strip() == (
        "line 2: meter number is empty; unknown REP certificate number 99999; customer_class "
        "must be residential or commercial, not 'industrial'; service address is empty"
    )


def test_a_file_without_the_header_is_refused(feed):
    errors, _ = refuse(feed(f"{ONCOR_ID},111222333,10004,residential,1 Main St", header=""))

    assert errors.startswith("line 1: header lacks esi_id, meter_number")
    assert not Premise.objects.exists()


def test_columns_may_come_in_any_order_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text(
        "\ufeffservice_address,customer_class,rep_certificate_number,meter_number,esi_id\r\n"
        f'"1 Main St, Dallas",residential,10004,111222333,{ONCOR_ID}\r\n',
        encoding="utf-8",
    )

    run(path)

    assert Premise.objects.get().service_address == "1 Main St, Dallas"


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"{HEADER}\n{ONCOR_ID},1,10004,residential,Peñasco\n".encode("latin-1"))

    errors, _ = refuse(path)

    assert "not UTF-8" in errors
    assert not Premise.objects.exists()


def test_a_missing_file_is_an_error():
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_premises", "/nonexistent/premises.csv")


def test_reimporting_a_large_unchanged_file_takes_a_few_queries_not_one_per_row(
    feed, django_assert_max_num_queries
):
    rows = [f"1044372{n:010d},{n:09d},10004,residential,{n} Main St" for n in range(500)]
    path = feed(*rows)
    run(path)

    with django_assert_max_num_queries(12):
        output = run(path)

    assert "500 unchanged" in output


def test_the_database_refuses_a_second_active_meter_at_one_premise(feed):
    run(feed(f"{ONCOR_ID},111222333,10004,residential,1 Main St"))
    premise = Premise.objects.get()

    with pytest.raises(IntegrityError), transaction.atomic():
        Meter.objects.create(premise=premise, number="999", installed_on=date(2026, 3, 1))


def test_the_database_refuses_a_meter_removed_before_it_was_installed(feed):
    run(feed(f"{ONCOR_ID},111222333,10004,residential,1 Main St"))

    with pytest.raises(IntegrityError), transaction.atomic():
        Meter.objects.update(removed_on=date(2020, 1, 1))


# --- occupant_since: the current customer's move-in date (glossary B13) ---------------

OCCUPANT_HEADER = f"{HEADER},occupant_since"


def test_the_optional_occupant_since_column_sets_the_move_in_date(feed):
    run(
        feed(
            f"{ONCOR_ID},111222333,10004,residential,1 Main St,2025-06-15",
            f"{CENTERPOINT_ID},444555666,10166X,commercial,2 Main St,",
            header=OCCUPANT_HEADER,
        )
    )

    assert Premise.objects.get(esi_id=ONCOR_ID).occupant_since == date(2025, 6, 15)
    assert Premise.objects.get(esi_id=CENTERPOINT_ID).occupant_since is None


def test_a_new_move_in_date_is_counted_and_a_blank_one_keeps_the_known_date(feed):
    run(
        feed(f"{ONCOR_ID},111222333,10004,residential,1 Main St,2025-06-15", header=OCCUPANT_HEADER)
    )

    moved = run(
        feed(f"{ONCOR_ID},111222333,10004,residential,1 Main St,2026-02-01", header=OCCUPANT_HEADER)
    )
    blank = run(feed(f"{ONCOR_ID},111222333,10004,residential,1 Main St,", header=OCCUPANT_HEADER))
    without_column = run(feed(f"{ONCOR_ID},111222333,10004,residential,1 Main St"))

    assert "0 unchanged, 1 move ins" in moved
    assert "1 unchanged, 0 move ins" in blank
    assert "1 unchanged, 0 move ins" in without_column
    assert Premise.objects.get().occupant_since == date(2026, 2, 1)


def test_a_move_in_date_in_the_future_or_malformed_is_a_bad_row_and_nothing_is_loaded(feed):
    # The clock reads 1 March in Texas (already 2 March in UTC): the 2nd is the future.
    errors, message = refuse(
        feed(
            f"{ONCOR_ID},111222333,10004,residential,1 Main St,2026-03-01",
            f"{CENTERPOINT_ID},444555666,10166X,commercial,2 Main St,2026-03-02",
            "10443720009999999,123,10004,residential,3 Main St,03/01/2026",
            "10443720008888888,123,10004,residential,4 Main St,2026-02-30",
            header=OCCUPANT_HEADER,
        )
    )

    assert errors.splitlines() == [
        "line 3: occupant_since 2026-03-02 is in the future",
        "line 4: occupant_since must be YYYY-MM-DD, not '03/01/2026'",
        "line 5: occupant_since must be YYYY-MM-DD, not '2026-02-30'",
    ]
    assert "3 problem(s); nothing was imported" in message
    assert not Premise.objects.exists()
