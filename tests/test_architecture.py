"""Apps import only downward, and nothing imports in a cycle.

The layers, bottom first: the core (shared helpers in ``smt_portal``), then
premises, outbox, csp_registry, webhooks, affirmations, data_access,
monitoring, accounts, csp_portal. A module
may import from its own app, from the core, and from apps below it; a lower
app learns of a higher one's interest through a subscriber (events, request
guards, authentication attempts), never an import. ``smt_portal``'s wiring
(settings, URLs, health, admin site, commands) sits on top and may import
anything.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = [
    "premises", "outbox", "csp_registry", "webhooks", "affirmations", "data_access", "monitoring",
    "accounts", "csp_portal",
]  # fmt: skip
CORE = {
    "smt_portal.actors",
    "smt_portal.admin_actions",
    "smt_portal.calendar",
    "smt_portal.challenge",
    "smt_portal.client_ip",
    "smt_portal.csv_export",
    "smt_portal.outages",
    "smt_portal.prepared_sql",
    "smt_portal.request_writes",
    "smt_portal.sealed_tokens",
}
KNOWN = {*LAYERS, "smt_portal"}


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path):
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = (package or module_name(path)).split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module
            # "from smt_portal import sealed_tokens" imports smt_portal.sealed_tokens.
            yield from (f"{source}.{alias.name}" for alias in node.names)


def app_modules():
    for app in sorted(KNOWN):
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield app, module_name(path), path


def allowed(app, module, imported):
    target = imported.split(".")[0]
    if target not in KNOWN or target == app:
        return True
    if module in CORE:
        return target == "smt_portal" and any(imported.startswith(c) for c in CORE)
    if app == "smt_portal":  # the wiring on top
        return True
    if target == "smt_portal":
        return any(imported == c or imported.startswith(c + ".") for c in CORE)
    return LAYERS.index(target) < LAYERS.index(app)


def test_apps_import_only_downward_and_the_core_imports_no_app():
    upward = [
        f"{module} imports {imported}"
        for app, module, path in app_modules()
        for imported in imports_of(path)
        if not allowed(app, module, imported)
    ]
    assert upward == []


def test_the_core_modules_exist():
    for module in CORE:
        assert (ROOT / (module.replace(".", "/") + ".py")).exists(), module
