"""Who may call what: ONE role matrix, and the role check every route declares.

:data:`MATRIX_TABLE` is the whole policy: a row per role, a column per route family, and
in each cell the accesses that role has (``r`` read, ``w`` write, ``d`` delete, ``p``
personal data in clear, ``-`` none). Routes declare ``Depends(Requires.to(family,
access))``; :func:`may_see_personal_data` and :func:`may_read_api` (masking, hub
listeners and event filtering) are derived from the same table, and docs/security.md
shows it (a test fails when the doc and the table disagree).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import structlog
from fastapi import Request
from sqlalchemy.orm import Session

from openbss.core import clock
from openbss.core.auth import ROLES, Principal, authenticate
from openbss.core.config import get_settings
from openbss.core.context import Context, cached_tenant, load_tenant
from openbss.core.db import run_local
from openbss.core.errors import NotFoundError, PermissionDeniedError

READ, WRITE, DELETE, PERSONAL = "read", "write", "delete", "personal"
ACCESSES: tuple[str, ...] = (READ, WRITE, DELETE, PERSONAL)
_LETTERS: dict[str, str] = {"r": READ, "w": WRITE, "d": DELETE, "p": PERSONAL}


@dataclass(frozen=True)
class Family:
    """A group of routes that share one access rule per role."""

    name: str
    routes: str  # what the family covers, for people
    accesses: dict[str, str]  # access -> what it allows on these routes


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("party", "TMF632 `individual`, `organization`", {
        READ: "GET", WRITE: "POST, PATCH", DELETE: "DELETE",
        PERSONAL: "contact media, identifications, addresses, birth dates in clear"}),
    Family("customer", "TMF629 `customer`", {
        READ: "GET", WRITE: "POST, PATCH", DELETE: "DELETE",
        PERSONAL: "personal data in clear"}),
    Family("account", "TMF666 `billingAccount`, `partyAccount`", {
        READ: "GET", WRITE: "POST, PATCH", DELETE: "DELETE",
        PERSONAL: "personal data in clear"}),
    Family("personalData", "`/api/v1/parties/{id}/personal-data`, `.../anonymize`", {
        READ: "export everything held about a person", DELETE: "erase (anonymise) a person"}),
    Family("catalog", "TMF620 resources, `importJob`, `exportJob`, `/api/v1/catalog/...`", {
        READ: "GET (offerings, prices, eligibility, export content)",
        WRITE: "POST, PATCH, import and export jobs, new offering versions",
        DELETE: "DELETE"}),
    Family("quote", "TMF648 `quote`, `/api/v1/quotes/{id}/order`", {
        READ: "GET quotes", WRITE: "POST, PATCH (states), order an accepted quote",
        DELETE: "DELETE a quote"}),
    Family("productOrder", "TMF622 `productOrder`, `cancelProductOrder`", {
        READ: "GET orders and cancellation requests",
        WRITE: "POST, PATCH orders, request a cancellation", DELETE: "DELETE an order"}),
    Family("product", "TMF637 `product`, `/api/v1/products/{id}/history`", {
        READ: "GET products and their history",
        WRITE: "POST (bring an existing subscription over), PATCH (suspend, resume, "
               "terminate, characteristics)",
        DELETE: "DELETE a product that never went live"}),
    Family("usage", "TMF635 `usage`, `usageSpecification`, `/api/v1/usage/...` (bulk, "
           "rejects)", {
        READ: "GET usage records, specifications and rejects",
        WRITE: "POST usage (one or in bulk), PATCH, reprocess rejects, re-rate",
        DELETE: "DELETE a usage specification or a usage record not yet rated"}),
    Family("rating", "`/api/v1/rating/...` (tariffs, `POST /api/v1/rating/cost`)", {
        READ: "GET tariffs, price one event (nothing is stored)",
        WRITE: "import or replace tariffs", DELETE: "DELETE a tariff"}),
    Family("settings", "`/api/v1/settings/{group}` (provisioning, billing …)", {
        READ: "GET a tenant's settings group", WRITE: "PATCH it"}),
    Family("pricing", "`POST /api/v1/pricing/preview` (nothing is stored)", {
        READ: "price a quantity"}),
    Family("audit", "`GET /api/v1/audit`", {READ: "page through the audit log"}),
    Family("testClock", "`/api/v1/testClock`", {
        READ: "GET the business time", WRITE: "advance a sandbox clock"}),
    Family("eventDeliveries", "`/api/v1/eventDeliveries`", {
        READ: "GET deliveries and their attempts", WRITE: "retry a delivery"}),
    Family("billing", "TMF678 `customerBill`, `appliedCustomerBillingRate`, "
           "`customerBillOnDemand`, `/api/v1/customerBills/...` (credit notes, documents), "
           "`/api/v1/billingAccounts/{id}/charges`, `/api/v1/billRuns`", {
        READ: "GET bills, their lines and documents, manual charges, bill runs; a "
              "pro-forma bill on demand (nothing is stored)",
        WRITE: "PATCH a bill's state, issue credit notes, add manual charges and credits, "
               "start bill runs",
        DELETE: "DELETE a manual charge not yet billed"}),
    Family("payment", "TMF676 `payment`, `refund`, TMF670 `paymentMethod`, "
           "`/api/v1/payments/...` (allocation, reversal, chargeback, SEPA files, bank "
           "statements and the matching queue), `/api/v1/customerBills/{id}/writeOff`", {
        READ: "GET payments, refunds, payment methods (masked), SEPA files, statements",
        WRITE: "record payments and refunds, allocate, reverse, charge back, write off, "
               "add payment methods, export SEPA files, import statements, match entries",
        DELETE: "DELETE (deactivate) a payment method",
        PERSONAL: "account numbers (IBAN) and holders of payment methods in clear"}),
    Family("dunning", "`/api/v1/dunning/...` (policies, runs, cases, holds), "
           "`GET /api/v1/reports/aging`", {
        READ: "GET dunning policies, cases, holds and the aging report",
        WRITE: "create and change policies, run dunning, open and release disputes and "
               "payment plans", DELETE: "DELETE a dunning policy"}),
    Family("ledger", "`/api/v1/ledger/...` (chart of accounts, journal, trial balance, "
           "export), `GET /api/v1/reconciliation`", {
        READ: "GET the chart of accounts, journal entries, the trial balance, exports, the "
              "reconciliation report",
        WRITE: "add or rename accounts of the chart, map revenue families"}),
    Family("hubs", "`POST <api>/hub`, `DELETE <api>/hub/{id}` of every TMF API", {
        WRITE: "register a listener (also needs read on the API's family)",
        DELETE: "unregister a listener (also needs read on the API's family)"}),
)}

# The role matrix. Destructive operations (DELETE of parties, customers and accounts,
# erasure of a person) belong to `admin` and the owning role, `care_agent` (customer care
# owns the customer relationship, its people and its accounts): never `sales_agent` or
# `billing_ops`. Listeners make openbss call URLs of the caller's choice: not for
# read-only roles or external partners.
MATRIX_TABLE = """
role             party  customer  account  personalData  catalog  quote  productOrder  product  usage  rating  settings  pricing  audit  testClock  eventDeliveries  billing  payment  dunning  ledger  hubs
admin            rwdp   rwdp      rwdp     rd            rwd      rwd    rwd           rwd      rwd    rwd     rw        r        r      rw         rw               rwd      rwdp     rwd      rw      wd
catalog_manager  -      -         -        -             rwd      -      -             -        -      rwd     -         r        -      r          -                -        -        -        -       wd
sales_agent      rwp    rwp       rwp      -             r        rwd    rw            rw       r      r       -         r        -      r          -                r        rwp      r        -       wd
care_agent       rwdp   rwdp      rwdp     rd            r        rw     rw            rwd      r      r       -         r        -      r          -                r        rwp      rw       -       wd
billing_ops      rp     rp        rwp      -             r        r      rw            rw       rwd    rw      r         r        -      r          rw               rwd      rwdp     rwd      r       wd
finance          r      r         r        -             r        r      r             r        r      r       r         r        -      r          -                r        rw       rw       rw      wd
partner          -      -         -        -             r        -      -             -        -      r       -         r        -      r          -                -        -        -        -       -
auditor          rp     rp        rp       r             r        r      r             r        r      r       r         r        r      r          r                r        rp       r        r       -
read_only        r      r         r        -             r        r      r             r        r      r       -         r        -      r          -                r        r        r        r       -
"""  # noqa: E501


def _parse(table: str) -> dict[str, dict[str, frozenset[str]]]:
    """``{family: {access: roles}}`` from :data:`MATRIX_TABLE`, checked strictly."""
    lines = [line.split() for line in table.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    families = header[1:]
    if header[0] != "role" or families != list(FAMILIES):
        raise ValueError(f"matrix columns must be {list(FAMILIES)}, got {families}")
    if [row[0] for row in rows] != list(ROLES):
        raise ValueError(f"matrix rows must be the roles {list(ROLES)}")
    matrix: dict[str, dict[str, set[str]]] = {
        name: {access: set() for access in family.accesses}
        for name, family in FAMILIES.items()}
    for row in rows:
        role, cells = row[0], row[1:]
        if len(cells) != len(families):
            raise ValueError(f"matrix row {role!r} has {len(cells)} cells")
        for family, cell in zip(families, cells, strict=True):
            for letter in "" if cell == "-" else cell:
                access = _LETTERS.get(letter)
                if access not in matrix[family]:
                    raise ValueError(f"{role} × {family}: access {letter!r} is not defined")
                matrix[family][access].add(role)
            if PERSONAL in matrix[family] and role in matrix[family][PERSONAL] \
                    and role not in matrix[family][READ]:
                raise ValueError(f"{role} × {family}: personal data without read")
    if any("admin" not in roles for family in matrix.values() for roles in family.values()):
        raise ValueError("admin must have every access")
    return {f: {a: frozenset(r) for a, r in acc.items()} for f, acc in matrix.items()}


MATRIX: dict[str, dict[str, frozenset[str]]] = _parse(MATRIX_TABLE)


def roles_for(family: str, access: str) -> frozenset[str]:
    """The roles that have ``access`` on the routes of ``family``."""
    try:
        return MATRIX[family][access]
    except KeyError:
        raise ValueError(f"no access {access!r} on route family {family!r}") from None


def allowed(role: str, family: str, access: str) -> bool:
    return role in roles_for(family, access)


# Roles that see personal data (contact media, identification numbers, postal addresses,
# birth dates) in clear; every other role gets it masked, in responses and in events.
PERSONAL_DATA_ROLES: frozenset[str] = roles_for("party", PERSONAL)
if any(roles_for(f, PERSONAL) != PERSONAL_DATA_ROLES for f in ("customer", "account")):
    raise ValueError("personal data must be seen by the same roles on every family")


def may_see_personal_data(role: str) -> bool:
    return role in PERSONAL_DATA_ROLES


# The route family whose read access decides who may read each TMF API's resources (and
# so register a listener on its hub and receive its events). The "event" API (TMF688)
# carries the kernel's own events: test clock advances.
API_FAMILIES: dict[str, str] = {
    "event": "testClock",
    "partyManagement": "party",
    "customerManagement": "customer",
    "accountManagement": "account",
    "productCatalogManagement": "catalog",
    "productInventory": "product",
    "quoteManagement": "quote",
    "productOrderingManagement": "productOrder",
    "usageManagement": "usage",
    "customerBillManagement": "billing",
    "paymentManagement": "payment",
    "paymentMethods": "payment",
}
API_READERS: dict[str, frozenset[str]] = {
    api: roles_for(family, READ) for api, family in API_FAMILIES.items()
}


def may_read_api(role: str, api: str) -> bool:
    """Whether ``role`` may read the resources of the TMF API named ``api``."""
    return role in API_READERS.get(api, frozenset({"admin"}))


def hub_roles(api: str, access: str = WRITE) -> frozenset[str]:
    """Who may register (``write``) or unregister (``delete``) a listener on ``api``'s hub:
    the ``hubs`` access of the matrix, narrowed to the roles that may read the API."""
    return roles_for("hubs", access) & API_READERS.get(api, frozenset({"admin"}))


class Requires:
    """Dependency that authenticates the caller, checks its role and builds the Context.

    ``Depends(Requires.to("customer", "delete"))`` lets the roles the matrix gives that
    access call the route; ``Requires.hub(api)`` guards a listener hub. The allowed roles,
    family and access are kept on the object so tests and docs can enumerate them.
    (``Requires("role", ...)`` names roles directly, plus ``admin``: prefer the matrix.)
    """

    def __init__(self, *roles: str, family: str = "", access: str = "") -> None:
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {unknown}")
        self.roles = frozenset(roles) | {"admin"}
        self.family = family
        self.access = access
        self.operation = f"{access} {family}" if family else "call this operation"

    @classmethod
    def to(cls, family: str, access: str) -> Requires:
        """The check of a route of ``family`` needing ``access`` (read, write, delete)."""
        return cls(*roles_for(family, access), family=family, access=access)

    @classmethod
    def hub(cls, api: str, access: str = WRITE) -> Requires:
        """The check of ``POST``/``DELETE`` on the hub of the TMF API ``api``."""
        return cls(*hub_roles(api, access), family="hubs", access=access)

    async def __call__(self, request: Request) -> Context:
        # Runs on the event loop: the principal comes from the middleware and the tenant
        # from the tenant cache; only a miss goes to the database (in a worker thread).
        session: Session = request.state.session
        principal: Principal | None = getattr(request.state, "principal", None)  # middleware
        if principal is None:
            principal = await anyio.to_thread.run_sync(
                authenticate, session, request.headers.get("authorization"))
        if principal.role not in self.roles:
            raise PermissionDeniedError(
                f"role {principal.role!r} may not {self.operation}; allowed: "
                + ", ".join(sorted(self.roles)),
            )
        tenant = cached_tenant(session, principal.tenant_id)
        if tenant is None:  # a sandbox tenant (its test clock) is never cached
            # on SQLite a primary-key read of a local file: a thread hop costs more
            tenant = await run_local(load_tenant, session, principal.tenant_id)
        if tenant is None:
            raise NotFoundError("tenant no longer exists")
        request.state.tenant_name = tenant.name
        structlog.contextvars.bind_contextvars(tenant=tenant.name, actor=principal.actor)
        return Context(
            session=session,
            tenant=tenant,
            actor=principal.actor,
            role=principal.role,
            now=clock.tenant_now(tenant),
            request_id=request.state.request_id,
            base_url=get_settings().base_url,
            correlation_id=request.headers.get("x-correlation-id", "") or
            request.state.request_id,
            key_id=principal.key_id,
        )


ANY_ROLE: tuple[str, ...] = ROLES
Handler = Callable[..., Any]


def matrix_markdown() -> str:
    """The role matrix as the Markdown tables of docs/security.md."""
    names = list(FAMILIES)
    out = ["| role | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for role in ROLES:
        cells = []
        for name in names:
            have = [a for a in FAMILIES[name].accesses if role in MATRIX[name][a]]
            cells.append(" ".join(have) if have else "—")
        out.append(f"| `{role}` | " + " | ".join(cells) + " |")
    out += ["", "| family | routes | access: what it allows |", "|---|---|---|"]
    for family in FAMILIES.values():
        accesses = "; ".join(f"**{a}**: {what}" for a, what in family.accesses.items())
        out.append(f"| {family.name} | {family.routes} | {accesses} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # python -m openbss.core.permissions > the block in the doc
    print(matrix_markdown(), end="")
