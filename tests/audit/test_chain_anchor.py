"""The audit chain is anchored where it began (issue 32, item 7): someone who can write the
database cannot clear the seals of the older entries, rewrite them and have `flask audit verify`
call them "from before the chain"; nor cut the chain's first entries, nor move or forge its
anchor. The retention purge, the one legitimate cut, re-anchors the chain in its transaction.
Every attack here is plain SQL around the application."""

import logging
from datetime import timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import delete, select, text, update

from app import create_app, retention
from app.audit import chain
from app.audit.models import AuditChainAnchor, AuditEntry
from app.audit.services import AuditLogIsAppendOnly
from app.extensions import db as _db
from app.timeutil import utcnow
from tests.audit.test_chain import entries, ids, raw, verify
from tests.fixtures.settings import app_overrides
from tests.staff.test_console import staff_client

# The attacker's SQL runs on a connection of its own: real commits.
pytestmark = pytest.mark.commits


def anchors(app) -> list[tuple]:
    with app.app_context():
        return [tuple(row) for row in _db.session.execute(
            text("SELECT kind, entry_id, prev_hash, entry_hash FROM audit_chain_anchors ORDER BY id"))]


def test_clearing_the_seals_of_all_but_the_newest_entry_to_rewrite_them_is_reported(app, runner):
    entries(app)
    first, second, third, fourth, fifth = ids(app)
    raw(app, f"UPDATE audit_log SET prev_hash = NULL, row_hash = NULL, target_seal = NULL, "
             f"reason = 'routine check' WHERE id < {fifth}")
    code, output = verify(runner)
    assert code == 1, output
    assert "chain intact" not in output
    assert f"4 entries after the chain began have no seal (removed to rewrite them): #{first}, #{second}, " \
           f"#{third}, #{fourth}" in output
    assert f"entry #{fifth}: the chain's first entry should be #{first}" in output


def test_the_chain_is_anchored_once_at_its_first_entry_in_the_table_the_log_and_the_output(app, runner, caplog):
    caplog.set_level(logging.INFO, logger="app.audit.chain")
    entries(app, 3)
    first = ids(app)[0]
    [(kind, entry_id, prev_hash, entry_hash)] = anchors(app)
    assert (kind, entry_id, prev_hash) == ("genesis", first, chain.GENESIS)
    assert f"audit chain anchor (genesis): from entry #{first}" in caplog.text and entry_hash in caplog.text
    code, output = verify(runner)
    assert code == 0 and "3 entries checked" in output and "chain intact" in output
    assert f"chain began at entry #{first}" in output and entry_hash in output
    with app.app_context():
        head = _db.session.scalar(text("SELECT last_hash FROM audit_chain"))
    assert f"chain head {head}" in output


def test_cutting_the_first_entries_is_reported(app, runner):
    entries(app)
    first, second, third, *_ = ids(app)
    raw(app, f"DELETE FROM audit_log WHERE id IN ({first}, {second})")
    code, output = verify(runner)
    assert code == 1 and f"entry #{third}: the chain's first entry should be #{first}" in output


@pytest.mark.parametrize("attack", [
    "DELETE FROM audit_chain_anchors",
    "UPDATE audit_chain_anchors SET entry_id = {fifth}, entry_hash = '{fifth_hash}'",
    "INSERT INTO audit_chain_anchors (created_at, kind, entry_id, prev_hash, entry_hash, seal) "
    "VALUES ('2026-12-07 00:00:00', 'retention', {fifth}, '{fourth_hash}', '{fifth_hash}', 'f00d')",
])
def test_removing_moving_or_forging_the_anchor_is_reported(app, runner, attack):
    entries(app)
    *_, fourth, fifth = ids(app)
    with app.app_context():
        hashes = dict(_db.session.execute(text("SELECT id, row_hash FROM audit_log")).all())
    raw(app, f"UPDATE audit_log SET prev_hash = NULL, row_hash = NULL, target_seal = NULL WHERE id < {fifth}")
    raw(app, attack.format(fifth=fifth, fifth_hash=hashes[fifth], fourth_hash=hashes[fourth]))
    code, output = verify(runner)
    assert code == 1 and "chain intact" not in output, output


def test_the_orm_refuses_to_change_or_delete_an_anchor(app, db):
    entries(app, 1)
    anchor = db.session.scalar(select(AuditChainAnchor))
    anchor.entry_id += 1
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    for statement in (update(AuditChainAnchor).values(entry_id=0), delete(AuditChainAnchor)):
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.execute(statement)
        db.session.rollback()
    db.session.delete(db.session.scalar(select(AuditChainAnchor)))
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()


def test_the_retention_purge_re_anchors_the_chain_and_cuts_only_its_start(app, runner):
    entries(app, 3, start=utcnow() - timedelta(days=800))
    entries(app, 2)
    kept = ids(app)[3:]
    with app.app_context():
        assert retention.purge(app.config, utcnow())["audit_log.expired"] == 3
    assert ids(app) == kept
    assert [row[:2] for row in anchors(app)] == [("genesis", kept[0] - 3), ("retention", kept[0])]
    code, output = verify(runner)
    assert code == 0 and "2 entries checked" in output and f"chain starts at entry #{kept[0]}" in output
    # Later, every entry expires; the chain goes on from its head.
    with app.app_context():
        assert retention.purge(app.config, utcnow() + timedelta(days=800))["audit_log.expired"] == 2
    entries(app, 2)
    code, output = verify(runner)
    assert code == 0 and "2 entries checked" in output and "chain intact" in output, output
    # An attacker clearing the seals after a purge is still caught.
    raw(app, f"UPDATE audit_log SET row_hash = NULL WHERE id = {ids(app)[0]}")
    code, output = verify(runner)
    assert code == 1 and "1 entries after the chain began have no seal" in output


@pytest.mark.parametrize("trimmed", [False, True])
def test_the_migration_anchors_an_existing_log_as_it_is(database_factory, trimmed):
    """A database with a chained log from before the anchors: the migration anchors it at its
    first sealed entry (and, when the purge had cut the chain's start, says so), and the forgery
    is caught from then on."""
    url = database_factory.new()
    app = create_app("testing", app_overrides(url))
    runner = app.test_cli_runner()
    with app.app_context():
        try:
            upgrade(revision="a7d3e9f1c2b8")
            raw(app, "INSERT INTO audit_log (created_at, actor_label, action) VALUES ('2024-01-01 00:00:00', 'system', "
                     "'staff:before-the-chain')")
            for n in range(4):  # what the application wrote before this revision
                entry = AuditEntry(created_at=utcnow() + timedelta(seconds=n), actor_label="system",
                                   action="staff:test", target=f"c{n}@example.com", reason=f"SUP-{n}")
                chain.seal(entry)
                _db.session.add(entry)
                _db.session.commit()
            legacy, first, second, third, fourth = ids(app)
            if trimmed:  # what the purge did before this revision: the oldest entries went
                raw(app, f"DELETE FROM audit_log WHERE id IN ({legacy}, {first})")
            upgrade()
            kinds = [row[:3] for row in anchors(app)]
            if trimmed:
                assert kinds == [("genesis", second, chain.GENESIS), ("retention", second, kinds[1][2])]
            else:
                assert kinds == [("genesis", first, chain.GENESIS)]
            code, output = verify(runner)
            assert code == 0 and f"{0 if trimmed else 1} from before the chain" in output, output
            assert "chain intact" in output
            raw(app, f"UPDATE audit_log SET row_hash = NULL, reason = 'nothing' WHERE id IN ({second}, {third})")
            code, output = verify(runner)
            assert code == 1 and f"#{second}, #{third}" in output, output
        finally:
            _db.session.remove()
            _db.engine.dispose()


def test_the_staff_audit_page_shows_where_the_chain_began(app, runner, outbox):
    staff = staff_client(app, runner, outbox, email="officer@example.com", roles=("privacy",))
    [(_, first, _, entry_hash)] = anchors(app)  # the officer's role grant was the first entry
    page = staff.get("/staff/audit").get_data(as_text=True)
    assert f"The chain of entries began at entry #{first}" in page and entry_hash in page
