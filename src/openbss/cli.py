"""The ``openbss`` command."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console

from openbss.assurance.cli import reconcile as reconcile_command
from openbss.billing.cli import billrun as billrun_command
from openbss.catalog.cli import catalog_app
from openbss.core import plugins
from openbss.core.cli_support import require_ready
from openbss.core.errors import OpenBSSError
from openbss.ledger.cli import ledger_app
from openbss.payments.cli import dunning_app, payments_app
from openbss.rating.cli import rating_app
from openbss.usage.cli import usage_app

app = typer.Typer(
    name="openbss",
    help="openbss — an open-source Business Support System.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
tenant_app = typer.Typer(help="Manage tenants.", no_args_is_help=True)
apikey_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
audit_app = typer.Typer(help="Inspect the audit log.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(apikey_app, name="apikey")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
keys_app = typer.Typer(help="Tenant data keys (personal data at rest).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(catalog_app, name="catalog")
app.add_typer(rating_app, name="rating")
app.add_typer(usage_app, name="usage")
app.command("billrun")(billrun_command)
app.command("reconcile")(reconcile_command)
app.add_typer(payments_app, name="payments")
app.add_typer(dunning_app, name="dunning")
app.add_typer(ledger_app, name="ledger")

err = Console(stderr=True, soft_wrap=True)
out = Console()

# One exit-code convention for every command: 0 done; 1 not done as asked (a bad or missing
# argument or option, a file that cannot be read, an unknown id, no database); 2 done, and
# it found something that needs attention (accounts that failed in a bill run, a
# reconciliation difference, an unbalanced trial balance) or no usable secret key. Click
# answers its own usage errors (an unknown option, `--workers abc`) with 2, which would read
# as "some accounts failed": they exit 1 like every other bad argument. (Typer ships its own
# Click; its UsageError is the base of the public typer.BadParameter.)
_usage_error: Any = typer.BadParameter.__base__
_usage_error.exit_code = 1


def fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def _migrate() -> None:
    from openbss.core.migrate import upgrade

    upgrade()


# One rule for the secret key: every command except `migrate` and `db ...` (which only touch
# the schema) needs a proper OPENBSS_SECRET_KEY and exits 2 without one; commands other
# than `init`, `migrate`, `db` and `demo` never create a database: they exit 1 when there
# is none.


def _need_secret_key() -> None:
    from openbss.core.config import HOW_TO_SET_SECRET_KEY, get_settings, secret_key_problem

    problem = secret_key_problem(get_settings())
    if problem:
        fail(f"{problem}; {HOW_TO_SET_SECRET_KEY}", code=2)


def _database_location() -> str:
    from sqlalchemy.engine import make_url

    from openbss.core.config import get_settings

    settings = get_settings()
    path = settings.sqlite_path
    return str(path) if path else make_url(settings.database_url).render_as_string()


def _need_database() -> None:
    """Exit 1 unless an initialised openbss database exists (never creates one)."""
    from sqlalchemy import inspect

    from openbss.core.config import get_settings
    from openbss.core.db import get_engine

    path = get_settings().sqlite_path
    if path is not None and not path.is_file():
        fail(f"no openbss database at {path}; run `openbss init` (or set OPENBSS_HOME or "
             "OPENBSS_DATABASE_URL to where it is)")
    if not inspect(get_engine()).has_table("tenant"):
        fail(f"no openbss database at {_database_location()} (it has no openbss tables); "
             "run `openbss init`")


def _ready() -> None:
    _need_secret_key()
    _need_database()


require_ready(_ready)


@app.command()
def migrate() -> None:
    """Migrate the database to the newest schema."""
    _migrate()
    out.print("database migrated to head")


@app.command()
def init(
    region: Annotated[str | None, typer.Option(
        help="Phone-number region of the default tenant (default OPENBSS_DEFAULT_REGION).")
    ] = None,
    currency: Annotated[str | None, typer.Option(
        help="Currency of the default tenant (default OPENBSS_DEFAULT_CURRENCY).")] = None,
) -> None:
    """Migrate the database and create the 'default' tenant (safe to run again)."""
    from openbss.core.db import unit_of_work
    from openbss.core.service import ensure_tenant

    _need_secret_key()
    _migrate()
    with unit_of_work() as session:
        tenant, created = ensure_tenant(session, "default", region=region, currency=currency)
        line = (f"created tenant 'default' (region {tenant.default_region}, currency "
                f"{tenant.default_currency})" if created else "tenant 'default' already exists")
    sys.stdout.write(f"database: {_database_location()}\n{line}\n")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.", min=1, max=64)] = 1,
    worker: Annotated[bool, typer.Option(help="Also run the event-delivery worker.")] = True,
) -> None:
    """Run the HTTP API (and the event-delivery worker)."""
    import uvicorn

    _ready()

    from openbss.core.config import get_settings

    if workers > 1 and get_settings().database_url.startswith("sqlite"):
        fail("SQLite serves one process; use --workers 1 or PostgreSQL "
             "(OPENBSS_DATABASE_URL=postgresql://...)")
    os.environ["OPENBSS_RUN_WORKER"] = "1" if worker else "0"
    uvicorn.run("openbss.app:create_app", factory=True, host=host, port=port,
                workers=workers, log_level="warning")


@app.command(name="worker")
def worker_cmd() -> None:
    """Run only the event-delivery worker (Ctrl-C stops it)."""
    import signal
    import threading

    from openbss.core.config import get_settings
    from openbss.core.logging import configure_logging
    from openbss.core.worker import run_forever
    from openbss.ordering.orchestration import register_worker_pass
    from openbss.payments.dunning import register_worker_pass as register_dunning_pass

    _ready()
    register_worker_pass()
    register_dunning_pass()
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_forever(stop)
    except KeyboardInterrupt:
        stop.set()


@tenant_app.command("create")
def tenant_create(
    name: str,
    sandbox: Annotated[bool, typer.Option(help="Run this tenant on a test clock.")] = False,
    clock_start: Annotated[
        str | None, typer.Option(help="Test clock start, ISO 8601 with offset.")
    ] = None,
    region: Annotated[str | None, typer.Option(
        help="Country of national phone numbers, e.g. DE (default OPENBSS_DEFAULT_REGION).")
    ] = None,
    currency: Annotated[str | None, typer.Option(
        help="Currency of accounts created without one, e.g. EUR (default "
             "OPENBSS_DEFAULT_CURRENCY).")] = None,
) -> None:
    """Create a tenant (add --sandbox for a test-clock tenant)."""
    from openbss.core.db import unit_of_work
    from openbss.core.service import create_tenant

    _ready()
    start = None
    if clock_start:
        try:
            start = datetime.fromisoformat(clock_start.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--clock-start {clock_start!r} is not an ISO 8601 date-time")
    with unit_of_work() as session:
        tenant = create_tenant(session, name=name, sandbox=sandbox, clock_start=start,
                               default_region=region, default_currency=currency)
        out.print(f"created tenant {tenant.name!r} ({'sandbox' if sandbox else 'production'}, "
                  f"region {tenant.default_region}, currency {tenant.default_currency})",
                  highlight=False)


@tenant_app.command("set")
def tenant_set(
    name: str,
    region: Annotated[str | None, typer.Option(
        help="Country of national phone numbers, e.g. DE.")] = None,
    currency: Annotated[str | None, typer.Option(
        help="Currency of accounts created without one, e.g. EUR (existing accounts keep "
             "theirs).")] = None,
) -> None:
    """Change a tenant's phone region and/or default currency (audited)."""
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.service import set_tenant_defaults

    _ready()
    if region is None and currency is None:
        fail("give --region and/or --currency", code=2)
    with unit_of_work() as session:
        tenant = tenant_by_name(session, name)
        changed = set_tenant_defaults(system_context(session, tenant, actor="cli"),
                                      region=region, currency=currency)
        out.print(f"tenant {name!r}: region {tenant.default_region}, currency "
                  f"{tenant.default_currency}" + ("" if changed else " (unchanged)"),
                  highlight=False)


@tenant_app.command("list")
def tenant_list() -> None:
    """List tenants."""
    from openbss.core.db import unit_of_work
    from openbss.core.service import list_tenants

    _ready()
    with unit_of_work() as session:
        for tenant in list_tenants(session):
            kind = f"sandbox, clock {tenant.clock_time:%Y-%m-%dT%H:%M:%SZ}" if tenant.sandbox \
                else "production"
            sys.stdout.write(f"{tenant.name}\t{kind}\t{tenant.default_region}\t"
                             f"{tenant.default_currency}\n")


@apikey_app.command("create")
def apikey_create(
    tenant: Annotated[str, typer.Option(help="Tenant name.")] = "default",
    role: Annotated[str, typer.Option(help="Role of the key.")] = "admin",
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
) -> None:
    """Create an API key and print it alone on stdout (only its hash is stored)."""
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.service import issue_api_key

    _ready()
    with unit_of_work() as session:
        ctx = system_context(session, tenant_by_name(session, tenant), actor="cli")
        key = issue_api_key(ctx, role=role, name=name)
    sys.stdout.write(key + "\n")


@apikey_app.command("list")
def apikey_list(
    tenant: Annotated[str, typer.Option(help="Tenant name.")] = "default",
) -> None:
    """List a tenant's API keys (ids, roles, names; never the secrets)."""
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.service import list_api_keys

    _ready()
    with unit_of_work() as session:
        ctx = system_context(session, tenant_by_name(session, tenant), actor="cli")
        for key in list_api_keys(ctx):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            sys.stdout.write(f"{key.prefix}\t{key.role}\t{state}\t{key.name}\n")


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id: the part after 'obss_'.")],
    tenant: Annotated[str, typer.Option(help="Tenant name.")] = "default",
) -> None:
    """Revoke an API key; it and the OAuth2 tokens issued for it stop working at once."""
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.service import revoke_api_key

    _ready()
    with unit_of_work() as session:
        ctx = system_context(session, tenant_by_name(session, tenant), actor="cli")
        revoke_api_key(ctx, key_id=key_id)
    out.print(f"revoked API key {key_id}")


@audit_app.command("verify")
def audit_verify(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
) -> None:
    """Check the audit hash chains; report each tenant's first broken link and exit 1."""
    from openbss.core.audit import verify
    from openbss.core.auth import tenant_by_name
    from openbss.core.db import unit_of_work

    _ready()
    with unit_of_work() as session:
        if tenant is not None:
            tenant_by_name(session, tenant)
        checked, breaks = verify(session, tenant)
    if breaks:
        for b in breaks:
            err.print(f"[red]BROKEN[/red] tenant {b.tenant!r} at row {b.seq}: {b.reason}",
                      highlight=False)
        raise typer.Exit(1)
    out.print(f"audit log intact: {checked} rows verified")


@db_app.command("check")
def db_check() -> None:
    """Fail if the models and the migrated database disagree."""
    from openbss.all_models import metadata
    from openbss.core.migrate import model_drift

    _migrate()
    drift = model_drift(metadata)
    if drift:
        for diff in drift:
            err.print(str(diff), highlight=False)
        fail("models and migrations disagree; run 'openbss db revision MESSAGE'")
    out.print("models and migrations agree")


@db_app.command("revision")
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models (for developers)."""
    from openbss.core.migrate import revision

    _migrate()
    revision(message)


@app.command()
def demo(
    tenant: Annotated[str, typer.Option(help="Tenant to load the demo into.")] = "default",
) -> None:
    """Load demo data (safe to run again: existing demo data is kept)."""
    from openbss.demo import load_demo

    _need_secret_key()
    _migrate()
    summary = load_demo(tenant)
    for line in summary:
        out.print(line)


@keys_app.command("rotate")
def keys_rotate(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (default: all).")] = None,
) -> None:
    """New data key per tenant; re-encrypt its personal data under it (old keys retire)."""
    import openbss.party.personal  # noqa: F401  (registers the party re-encryption)
    from openbss.core import crypto
    from openbss.core.auth import tenant_by_name
    from openbss.core.db import unit_of_work
    from openbss.core.models import Tenant

    _ready()
    with unit_of_work() as session:
        rows = [tenant_by_name(session, tenant)] if tenant else list(
            session.query(Tenant).order_by(Tenant.name))
        for row in rows:
            done = crypto.rotate(session, row.id)
            count = sum(done["reencrypted"].values())
            out.print(f"tenant {row.name}: new data key {done['newKey']}, {count} records "
                      f"re-encrypted, {len(done['retiredKeys'])} key(s) retired",
                      highlight=False)


@keys_app.command("rewrap")
def keys_rewrap() -> None:
    """After changing OPENBSS_SECRET_KEY: re-wrap every tenant key that the previous
    secret (in OPENBSS_PREVIOUS_SECRET_KEY) wrapped."""
    from openbss.core import crypto
    from openbss.core.db import unit_of_work

    _ready()
    previous = os.environ.get("OPENBSS_PREVIOUS_SECRET_KEY")
    if not previous:
        fail("set OPENBSS_PREVIOUS_SECRET_KEY to the secret the keys were wrapped with")
    assert previous is not None
    with unit_of_work() as session:
        count = crypto.rewrap(session, old_secret=previous)
    out.print(f"{count} tenant key(s) re-wrapped under the current OPENBSS_SECRET_KEY")


def main() -> None:
    plugins.load()
    try:
        app()
    except OpenBSSError as exc:
        err.print(f"[red]error:[/red] {exc.message}", highlight=False)
        sys.exit(1)
    except Exception as exc:
        from sqlalchemy.exc import OperationalError

        if isinstance(exc, OperationalError):
            err.print(f"[red]error:[/red] database unreachable: {exc.orig}", highlight=False)
        else:
            err.print(f"[red]error:[/red] {type(exc).__name__}: {exc}", highlight=False)
        sys.exit(1)
