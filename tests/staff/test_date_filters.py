"""Every staff CSV and list with date filters refuses a day it cannot compute with before any byte
is sent (a 200 that dies half-way through a download is a broken file, not an error)."""

import pytest

from tests.staff.test_console import staff_client

OUT_OF_RANGE = ["until=9999-12-31", "since=9999-12-31", "since=0001-01-01"]


@pytest.mark.parametrize("query", OUT_OF_RANGE)
def test_orders_and_their_csv_refuse_a_day_out_of_range(app, runner, outbox, query):
    staff = staff_client(app, runner, outbox, roles=("billing",))
    page = staff.get(f"/staff/orders?{query}")
    assert page.status_code == 400 and "Choose a day from 2000-01-01 to 2999-12-31." in page.get_data(as_text=True)
    download = staff.get(f"/staff/orders.csv?{query}")
    assert download.status_code == 400 and download.mimetype == "text/html"


@pytest.mark.parametrize("query", OUT_OF_RANGE)
def test_the_audit_log_and_its_csv_refuse_a_day_out_of_range(app, runner, outbox, query):
    staff = staff_client(app, runner, outbox, roles=("admin",))
    page = staff.get(f"/staff/audit?{query}")
    assert page.status_code == 400 and "Choose a day from 2000-01-01 to 2999-12-31." in page.get_data(as_text=True)
    download = staff.get(f"/staff/audit.csv?{query}")
    assert download.status_code == 400 and download.mimetype == "text/html"
