"""The record of processing activities (GDPR Art. 30), generated from the code: every table with
personal data belongs to an activity, the CLI writes it, staff download it, docs/ stays current."""

import csv
import io
from pathlib import Path

from sqlalchemy import ForeignKey, MetaData, String
from sqlalchemy.orm import Mapped, mapped_column, registry

from app import processing
from app.extensions import db as _db
from app.retention import PERSONAL
from tests.staff.test_console import staff_client

ROOT = Path(__file__).resolve().parents[1]


def test_every_table_with_personal_data_belongs_to_a_processing_activity(app):
    with app.app_context():
        assert processing.uncovered_tables(_db.metadata) == []
        personal = processing.personal_tables(_db.metadata)
    assert {"users", "passkeys", "api_calls", "orders", "staff_accesses", "analytics_visitors"} <= set(personal)


def test_a_new_model_with_personal_data_and_no_activity_is_named(app):
    """Temporary models, as a developer would add them without an activity: one with a tagged
    column, one with a link to an account. (On a copy of the metadata, so the app is unchanged.)"""
    with app.app_context():
        metadata = MetaData()
        for table in _db.metadata.tables.values():
            table.to_metadata(metadata)
    models = registry(metadata=metadata)

    @models.mapped
    class PetName:
        __tablename__ = "pet_names"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(40), info=PERSONAL)

    @models.mapped
    class Wishlist:
        __tablename__ = "wishlists"
        id: Mapped[int] = mapped_column(primary_key=True)
        user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    assert processing.uncovered_tables(metadata) == ["pet_names", "wishlists"]
    assert processing.uncovered_tables(_db.metadata) == []  # the real models are untouched


def test_the_cli_writes_markdown_and_csv_with_every_activity(app, tmp_path):
    runner = app.test_cli_runner()
    markdown = runner.invoke(args=["privacy", "ropa"])
    assert markdown.exit_code == 0
    for activity in processing.ACTIVITIES:
        assert f"## {activity.name}" in markdown.output
    assert "Stripe, Inc." in markdown.output and "Standard Contractual Clauses" in markdown.output
    written = tmp_path / "ropa.csv"
    assert runner.invoke(args=["privacy", "ropa", "--format", "csv", "--write", str(written)]).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(written.read_text(encoding="utf-8"))))
    assert len(rows) == len(processing.ACTIVITIES)
    assert all(row["legal basis"] and row["retention"] and row["security measures"] for row in rows)
    accounts = next(row for row in rows if row["activity"] == "Customer accounts and sign-in")
    assert "deleted after 90 days" in accounts["retention"]  # the period in force, from the registry


def test_docs_processing_md_matches_the_code(app):
    with app.app_context():
        assert (ROOT / "docs/processing.md").read_text(encoding="utf-8") == processing.markdown(app.config)


def test_privacy_staff_download_the_record_and_support_staff_cannot(app, runner, outbox):
    privacy = staff_client(app, runner, outbox, email="dpo@example.com", roles=("privacy",))
    assert "Record of processing activities" in privacy.get("/staff/policies").get_data(as_text=True)
    response = privacy.get("/staff/ropa.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert privacy.get("/staff/ropa.pdf").status_code == 404
    support = staff_client(app, runner, outbox, email="agent@example.com", roles=("support",))
    assert support.get("/staff/ropa.md").status_code == 403
