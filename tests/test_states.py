"""The state enums and their transition tables: every stored state has a label, every state of
an aggregate is in its table, and a move the table does not list is refused with an error that
names both states."""

from enum import StrEnum

import pytest

from app.audit.models import AccessCategory, AuditAction
from app.auth.models import SecurityEventTag
from app.billing.models import (
    DISPUTE_TRANSITIONS,
    ORDER_TRANSITIONS,
    REFUND_TRANSITIONS,
    DisputeStatus,
    OrderStatus,
    RefundStatus,
)
from app.breaches.models import BREACH_TRANSITIONS, BreachStage
from app.consent.models import ConsentMethod, SeparateConsentKind
from app.consent.registry import ConsentCategory
from app.contact.models import THREAD_TRANSITIONS, ContactTopic, ThreadStatus
from app.drp.models import DRP_TRANSITIONS, DrpStatus
from app.keys.models import KEY_TRANSITIONS, KeyState
from app.labels import LABELS, TEMPLATE_STATES
from app.rights.models import REQUEST_TRANSITIONS, RequestStatus, RequestType, TransitionRefused
from app.states import IllegalTransition

TABLES = [(ORDER_TRANSITIONS, OrderStatus), (REFUND_TRANSITIONS, RefundStatus), (DISPUTE_TRANSITIONS, DisputeStatus),
          (REQUEST_TRANSITIONS, RequestStatus), (THREAD_TRANSITIONS, ThreadStatus), (KEY_TRANSITIONS, KeyState),
          (BREACH_TRANSITIONS, BreachStage)]
LABELLED = {"order": OrderStatus, "thread": ThreadStatus, "request": RequestStatus, "key": KeyState,
            "breach_stage": BreachStage, "dispute": DisputeStatus, "audit": AuditAction,
            "security_event": SecurityEventTag, "topic": ContactTopic, "request_type": RequestType,
            "consent_method": ConsentMethod, "consent_category": ConsentCategory,
            "separate_consent": SeparateConsentKind, "access_category": AccessCategory}


@pytest.mark.parametrize(("table", "enum"), TABLES, ids=[t.aggregate for t, _ in TABLES])
def test_every_state_of_an_aggregate_is_in_its_table(table, enum):
    assert table.states() == set(enum)


def test_drp_table_names_only_the_stored_final_states():
    assert DRP_TRANSITIONS.states() == {DrpStatus.FULFILLED, DrpStatus.DENIED, DrpStatus.REVOKED}


@pytest.mark.parametrize(("kind", "enum"), LABELLED.items())
def test_every_stored_state_has_a_label_keyed_by_its_member(kind, enum):
    assert set(LABELS[kind]) == set(enum)
    assert all(isinstance(key, enum) for key in LABELS[kind])


def test_templates_get_every_state_enum():
    assert all(issubclass(enum, StrEnum) for enum in TEMPLATE_STATES.values())
    assert {"OrderStatus", "RequestStatus", "BreachStage", "ThreadStatus", "KeyState"} <= set(TEMPLATE_STATES)


@pytest.mark.parametrize(("table", "current", "target"), [
    (ORDER_TRANSITIONS, OrderStatus.REFUNDED, OrderStatus.PENDING),
    (ORDER_TRANSITIONS, OrderStatus.PAID, OrderStatus.EXPIRED),
    (REFUND_TRANSITIONS, RefundStatus.SUCCEEDED, RefundStatus.PENDING),
    (REFUND_TRANSITIONS, RefundStatus.FAILED, RefundStatus.SUCCEEDED),
    (DISPUTE_TRANSITIONS, DisputeStatus.LOST, DisputeStatus.NEEDS_RESPONSE),
    (REQUEST_TRANSITIONS, RequestStatus.COMPLETED, RequestStatus.OPEN),
    (THREAD_TRANSITIONS, ThreadStatus.OPEN, ThreadStatus.NEW),
    (KEY_TRANSITIONS, KeyState.REVOKED, KeyState.ACTIVE),
    (BREACH_TRANSITIONS, BreachStage.CLOSED, BreachStage.SUSPECTED),
    (DRP_TRANSITIONS, DrpStatus.FULFILLED, DrpStatus.REVOKED),
])
def test_an_illegal_move_is_refused_with_an_error_naming_both_states(table, current, target):
    assert not table.allowed(current, target)
    with pytest.raises(IllegalTransition) as refused:
        table.check(current, target)
    assert str(refused.value) == f"The {table.aggregate} is {current}: it cannot become {target}."
    assert (refused.value.current, refused.value.target) == (current, target)


def test_staying_put_is_not_a_move_and_a_stored_string_is_its_member():
    assert ORDER_TRANSITIONS.check("paid", OrderStatus.PAID) == OrderStatus.PAID
    assert ORDER_TRANSITIONS.check("pending", OrderStatus.PAID) == "paid"


def test_a_rights_request_refusal_is_the_domains_own_error():
    with pytest.raises(TransitionRefused):
        REQUEST_TRANSITIONS.check(RequestStatus.REJECTED, RequestStatus.IN_PROGRESS)
