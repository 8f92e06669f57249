# fleetctl import alembic's helper, run with the project's own Python and
# Alembic (compiled into fleetctl, written to a temporary file while it runs):
#
#   python3 alembic_render.py ALEMBIC_INI  ->  JSON on stdout
#
# Each revision's upgrade() and downgrade() run in Alembic's offline mode
# against PostgreSQL's dialect (literal binds, named paramstyle so that % in
# SQL survives) through a MigrationContext of its own: the project's env.py
# is not run, nothing connects to a database, no version-table statement is
# made. The project's folder is on sys.path for its imports.
import contextlib
import io
import json
import os
import re
import sys
import traceback


def as_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def render(script_module_fn):
    """Runs one upgrade()/downgrade() offline; returns (sql, autocommit, error)."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    out = io.StringIO()
    ctx = MigrationContext.configure(
        dialect_name="postgresql",
        dialect_opts={"paramstyle": "named"},
        opts={"as_sql": True, "output_buffer": out, "literal_binds": True},
    )
    used = {"autocommit": False}
    original = ctx.autocommit_block

    @contextlib.contextmanager
    def autocommit_block():
        used["autocommit"] = True
        with original():
            yield

    ctx.autocommit_block = autocommit_block
    try:
        with Operations.context(ctx):
            script_module_fn()
    except Exception as e:  # the revision itself failed, not us
        lines = traceback.format_exception_only(type(e), e)
        return None, used["autocommit"], "".join(lines).strip()
    # BEGIN/COMMIT come only from autocommit_block: fleet runs the revision
    # outside a transaction instead (transactional: false).
    sql = "\n".join(
        line for line in out.getvalue().splitlines()
        if line.strip().upper() not in ("BEGIN;", "COMMIT;"))
    return sql.strip() + "\n" if sql.strip() else "", used["autocommit"], None


def main():
    ini = os.path.abspath(sys.argv[1])
    project = os.path.dirname(ini)
    sys.path.insert(0, project)
    os.chdir(project)
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config(ini)
    script = ScriptDirectory.from_config(cfg)
    revisions = []
    for rev in reversed(list(script.walk_revisions())):  # base first
        doc = rev.module.__doc__ or ""
        created = re.search(r"^Create Date:\s*(.+)$", doc, re.MULTILINE)
        with open(rev.path, encoding="utf-8") as f:
            source = f.read()
        entry = {
            "revision": rev.revision,
            "down_revisions": as_list(rev.down_revision),
            "branch_labels": sorted(as_list(getattr(rev, "_orig_branch_labels", None) or [])),
            "depends_on": as_list(rev.dependencies),
            "message": (rev.doc or "").strip(),
            "create_date": created.group(1).strip() if created else "",
            "path": os.path.relpath(rev.path, project),
            "source": source,
        }
        up, up_autocommit, up_error = render(rev.module.upgrade)
        down, down_autocommit, down_error = render(rev.module.downgrade)
        entry["upgrade"] = up
        entry["upgrade_error"] = up_error
        entry["downgrade"] = down
        entry["downgrade_error"] = down_error
        entry["transactional"] = not (up_autocommit or down_autocommit)
        revisions.append(entry)
    json.dump({"revisions": revisions, "heads": sorted(script.get_heads())}, sys.stdout)


if __name__ == "__main__":
    main()
