"""The structure a newcomer relies on, checked by walking the source: the layering and no
import cycle between domain packages (``python -m app.tools.imports``), small modules, thin
views, and services that never reach for the request."""

import ast
from pathlib import Path

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
