"""The structure a newcomer relies on, checked by walking the source: the layering and no
import cycle between domain packages (``python -m app.tools.imports``), small modules, thin
views, and services that never reach for the request."""

import ast
import inspect
import re
import typing
from pathlib import Path

from app.metering.database_meter import DatabaseMeter
from app.metering.redis_meter import RedisMeter
from app.metering.types import Meter
from app.tools import imports

APP = Path(__file__).resolve().parents[1] / "app"
REQUEST_STATE = {"request", "g", "session", "current_user"}


def _modules():
    return sorted(APP.rglob("*.py"))


def test_no_upward_import_and_no_cycle_between_domain_packages():
    edges = imports.graph()
    assert imports.upward(edges) == []
    assert imports.cycles(edges) == []
    assert imports.main() == 0


def test_the_checker_sees_a_cycle_and_an_upward_import():
    edges = {"app.billing.services": {"app.auth.services"}, "app.auth.services": {"app.billing.routes"},
             "app.billing.routes": set(), "app.auth.models": {"app.auth.services"}}
    assert imports.cycles(edges) == [["app.auth", "app.billing", "app.auth"]]
    assert imports.upward(edges) == ["app.auth.models (layer 2) imports app.auth.services (layer 4)"]


def test_no_module_in_app_is_over_400_lines():
    long = {str(p.relative_to(APP)): n for p in _modules() if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


def test_services_never_read_the_request():
    """Services take what they need as arguments: no ``request``, ``g``, ``session`` or
    ``current_user`` imported into a services module or the metering package."""
    offenders = []
    for path in _modules():
        if path.name != "services.py" and path.parent.name != "metering":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in ("flask", "flask_login"):
                offenders += [f"{path.relative_to(APP)}: {a.name}" for a in node.names if a.name in REQUEST_STATE]
    assert offenders == []


def test_views_are_thin():
    """No view function (a function under a blueprint route decorator) is over 40 lines."""
    long = []
    for path in _modules():
        if not (path.name.startswith("routes") or path.parent.name == "routes"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any(_is_route(d) for d in node.decorator_list):
                lines = node.end_lineno - node.lineno + 1
                if lines > 40:
                    long.append(f"{path.relative_to(APP)}::{node.name} ({lines} lines)")
    assert long == []


def _is_route(decorator) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr in ("route", "get", "post", "put", "delete", "patch")


def test_views_leave_queries_and_audit_rows_to_services():
    """No routes module builds a query (imports sqlalchemy) or writes an audit row itself."""
    offenders = []
    for path in _modules():
        if not (path.name.startswith("routes") or path.parent.name == "routes"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
                offenders.append(f"{path.relative_to(APP)}: imports {node.module}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "record" \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "audit":
                offenders.append(f"{path.relative_to(APP)}:{node.lineno}: audit.record")
    assert offenders == []


ROOT = APP.parent


def _is_binary(path: Path) -> bool:
    """A file git would call binary: a NUL byte in its first 8000 bytes (or a zip/wheel)."""
    head = path.read_bytes()[:8000]
    return b"\0" in head or head.startswith(b"PK\x03\x04")


def test_the_repository_root_holds_no_binary_file():
    """Packages come from the index (requirements*.txt), not from files committed beside the code."""
    binaries = sorted(p.name for p in ROOT.iterdir() if p.is_file() and _is_binary(p))
    assert binaries == []


def _routes_modules():
    return [p for p in _modules() if p.name == "routes.py" or p.parent.name == "routes"]


def test_no_routes_module_imports_another_routes_module():
    """Views share helpers through modules made for it (``app.errors.problems``, services), never through
    another package's views: only the application factory wires routes modules together."""
    offenders = []
    for path in _routes_modules():
        own = ".".join(path.relative_to(APP.parent).with_suffix("").parts)
        package = own.rsplit(".routes", 1)[0] + ".routes"
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if "routes" in parts and not name.startswith(package):
                    offenders.append(f"{own} imports {name}")
    assert offenders == []


def _wiring_calls(tree):
    """(function name, line) of every write to ``<x>.extensions[...]`` and every ``add_url_rule`` call."""
    found = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef):
            continue
        for node in ast.walk(func):
            targets = node.targets if isinstance(node, ast.Assign) else []
            if any(isinstance(t, ast.Subscript) and isinstance(t.value, ast.Attribute)
                   and t.value.attr == "extensions" for t in targets):
                found.append((func.name, node.lineno))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "add_url_rule":
                found.append((func.name, node.lineno))
    return found


def test_the_application_is_wired_only_by_create_app_and_register_functions():
    """What the application runs with (the payment backend, the meter, routes added at start-up) is
    chosen in ``create_app`` or a ``register_*`` function, never in a domain's views."""
    offenders = [f"{p.relative_to(APP)}:{line} in {name}" for p in _modules()
                 for name, line in _wiring_calls(ast.parse(p.read_text()))
                 if name != "create_app" and not name.startswith("register_")]
    assert offenders == []


def test_security_headers_are_given_the_checkout_origin_not_reading_billing():
    """The CSP's form-action is passed to the headers by the factory; they read no other part's state."""
    source = (APP / "security" / "headers.py").read_text()
    assert "extensions" not in source and "gateway" not in source


def test_staff_views_read_posted_fields_through_forms():
    """Every field the staff console reads is a form field (app/staff/forms.py): validated, with its
    message in the visitor's language, never picked out of ``request.form`` by hand."""
    offenders = [f"{p.relative_to(APP)}:{n}" for p in (APP / "staff").rglob("*.py")
                 for n, line in enumerate(p.read_text().splitlines(), 1) if "request.form" in line]
    assert offenders == []


def test_the_meter_protocol_is_check_and_settle_without_boolean_flags():
    """A call is checked before the backend's work and settled once its answer is known; both
    meters offer exactly that, with the same parameters, and no flag changes what a method does."""
    for name in ("check", "settle"):
        expected = inspect.signature(getattr(Meter, name))
        hints = typing.get_type_hints(getattr(Meter, name))
        assert bool not in hints.values()
        for meter in (DatabaseMeter, RedisMeter):
            assert inspect.signature(getattr(meter, name)) == expected, (meter.__name__, name)
    assert not hasattr(Meter, "meter") and not hasattr(DatabaseMeter, "meter") and not hasattr(RedisMeter, "meter")

STATE_COLUMNS = {"status", "kind", "stage", "from_status", "to_status", "tag", "topic", "end_reason"}
# Stored states too, but common argument names elsewhere (``type="html"``, ``method="POST"``): checked as
# a model's attribute (``req.type == "erasure"``) and as a keyword of the models named here.
STATE_ATTRIBUTES = STATE_COLUMNS | {"type", "method", "purpose", "category"}
MODEL_STATE_KEYWORDS = {"RightsRequest": {"type"}, "ConsentRecord": {"method"}, "AccountToken": {"purpose"},
                        "StaffAccess": {"category"}}
NOT_MODELS = {"request"}  # ``request.method`` is the HTTP method, not a stored state
# Functions that take a state positionally, and where: ``end_sessions(user, SessionEndReason.MINOR, now)``.
STATE_ARGUMENTS = {"record_event": 1, "end_session": 1, "end_sessions": 1, "file_request": 0, "decide": 0,
                   "create_thread": 2, "allows": 0, "issue_token": 1, "find_token": 1, "access.record": 2,
                   "record_reads": 2, "open_user_record": 2, "acting_role": 1}


def _state_attribute(node) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in STATE_ATTRIBUTES \
        and not (isinstance(node.value, ast.Name) and node.value.id in NOT_MODELS)


def _called(node) -> str | None:
    return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)


def _state_argument(node) -> int | None:
    """The index of the state argument of a call in ``STATE_ARGUMENTS`` (by name or module.name)."""
    func = node.func
    dotted = f"{func.value.id}.{func.attr}" if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
        else None
    return STATE_ARGUMENTS.get(dotted, STATE_ARGUMENTS.get(_called(node)))


def _string_literals(node) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def state_literals(root: Path) -> list[str]:
    """Every place under ``root`` that spells a state: a string literal compared with, assigned to
    or passed as a status/kind/stage column (``order.status == "paid"``, ``x.status = "open"``,
    ``Order(status="pending")``, ``Order.status.in_(("paid", ...))``) or as the state argument of
    a function in ``STATE_ARGUMENTS`` (``record_event(user, "auth:logout", ...)``)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(_state_attribute(s) for s in sides) and any(_string_literals(s) for s in sides):
                    found.append(f"{where}: {ast.unparse(node)}")
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    both = isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                    pairs = zip(target.elts, node.value.elts, strict=False) if both else [(target, node.value)]
                    found += [f"{where}: {ast.unparse(node)}" for t, v in pairs
                              if _state_attribute(t) and _string_literals(v)]
            elif isinstance(node, ast.Call):
                if isinstance(node.func, ast.Attribute) and node.func.attr in ("in_", "not_in") \
                        and _state_attribute(node.func.value) and any(_string_literals(a) for a in node.args):
                    found.append(f"{where}: {ast.unparse(node)}")
                keywords = STATE_COLUMNS | MODEL_STATE_KEYWORDS.get(_called(node), set())
                found += [f"{where}: {k.arg}={ast.unparse(k.value)}" for k in node.keywords
                          if k.arg in keywords and _string_literals(k.value)]
                index = _state_argument(node)
                if index is not None and len(node.args) > index and _string_literals(node.args[index]):
                    found.append(f"{where}: {ast.unparse(node)}")
    return found


def test_states_are_enum_members_not_string_literals():
    """Each state and kind is a StrEnum member in its domain's models (moved by the domain's
    transition table): no string literal is compared with, assigned to or passed as a status,
    kind or stage column anywhere in app/."""
    assert state_literals(APP) == []


def test_the_state_literal_checker_sees_each_spelling(tmp_path):
    (tmp_path / "services.py").write_text(
        'def f(order, Order, Refund):\n'
        '    if order.status == "paid":\n'
        '        order.status = "refunded"\n'
        '    order.status, order.note = "expired", "x"\n'
        '    Refund(status="pending")\n'
        '    Order.status.in_(("paid", "refunded"))\n'
        '    return order.kind in ("invoice",) or order.stage != OrderStatus.PAID\n'
        'def g(req, user, request, RightsRequest, ConsentRecord):\n'
        '    if req.type == "erasure" or request.method == "GET":\n'
        '        end_sessions(user, "minor", now)\n'
        '    activity.record_event(user, "auth:logout", client, now)\n'
        '    RightsRequest(type="access"), ConsentRecord(method="gpc"), item.content(text, type="html")\n'
        '    services.decide("save", set(), False, None, None, "en", config, now)\n'
        '    return UserSession(end_reason="idle"), decision.allows("analytics"), Thread(topic="sales")\n'
        'def h(staff, owner, token):\n'
        '    access.record(staff, owner, "rights", now, config), audit.record(staff, action, "x")\n'
        '    return token.purpose == "reset_password" or AccountToken(purpose="verify_email")\n')
    assert sorted(int(line.split(":")[1]) for line in state_literals(tmp_path)) == [
        2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 12, 13, 14, 14, 14, 16, 17, 17]


TEMPLATES = APP / "templates"
NOT_STATES = {"legal/history.html"}  # its ``kind`` is a line of a text diff (added, removed), not a stored state
TEMPLATE_STATE_LITERAL = re.compile(  # ``field.type`` (a form field's class name) is not a stored state
    r"""(?:\b(?:status|stage|kind|to_status|from_status|topic|tag|end_reason|method)|(?<!field)\.type)"""
    r"""\s*(?:==|!=|\bnot in\b|\bin\b)\s*\(?\s*['"]""")


def test_templates_compare_enum_members_not_state_strings():
    """Templates compare a state with an enum member (``OrderStatus.PAID``, a template global),
    never with a hard-coded state string."""
    found = [f"{p.relative_to(TEMPLATES)}:{n}" for p in sorted(TEMPLATES.rglob("*.*")) if p.suffix in (".html", ".txt")
             for n, line in enumerate(p.read_text().splitlines(), 1) if TEMPLATE_STATE_LITERAL.search(line)
             and str(p.relative_to(TEMPLATES)) not in NOT_STATES]
    assert found == []


LOG_CALLS = {"debug", "info", "warning", "error", "exception"}  # a log line's event name is not an audit row


def test_audit_actions_are_enum_members():
    """An audit row's action is an ``AuditAction`` member (labelled in app/labels.py): no call
    passes a ``domain:object:verb`` string literal."""
    found = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            logged = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LOG_CALLS
            if isinstance(node, ast.Call) and not logged:
                found += [f"{path.relative_to(APP)}:{node.lineno}: {arg.value}" for arg in node.args
                          if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                          and re.fullmatch(r"(staff|privacy|billing|rights|contact):[a-z:_-]+", arg.value)]
    assert found == []


# Where app/ may commit or roll back, and why. Everything else leaves the transaction to the unit
# of work (app/uow.py): a request's work is committed once after its view, a job's by atomic().
TRANSACTION_OWNERS = {
    "uow.py": 4,  # the unit of work itself: the request's commit, atomic(), commit_now(), its rollback
    "errors/routes.py": 1,  # the error page may read the database after a failed statement
    "pages/services.py": 1,  # the health check's probe failed: the session is made usable again
    "metering/database_meter.py": 1,  # a charge past a cap is undone whole (the meter's own lock order)
    "metering/redis_meter.py": 1,  # a key is read as committed now, not in an older read transaction
}


def _transaction_calls(path: Path) -> int:
    return sum(1 for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr in ("commit", "rollback") and not node.args)


def test_only_the_unit_of_work_and_named_exceptions_commit_or_roll_back():
    """A view, service, sign-in or user loader that commits or rolls back takes the transaction
    from its owner: a new ``commit()``/``rollback()`` outside the places listed fails here."""
    found = {str(p.relative_to(APP)): n for p in _modules() if (n := _transaction_calls(p))}
    over = {name: n for name, n in found.items() if n > TRANSACTION_OWNERS.get(name, 0)}
    assert over == {}


def test_the_transaction_check_sees_a_commit_in_a_view(tmp_path):
    view = tmp_path / "routes.py"
    view.write_text("def save():\n    db.session.commit()\n    return redirect('/')\n")
    assert _transaction_calls(view) == 1


def test_every_commit_of_its_own_names_its_reason():
    """``commit_now(reason)``: a step that commits on its own says why, in words."""
    unnamed = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "commit_now" and not (
                    node.args and isinstance(node.args[0], ast.Constant) and len(str(node.args[0].value)) > 10):
                unnamed.append(f"{path.relative_to(APP)}:{node.lineno}")
    assert unnamed == []
