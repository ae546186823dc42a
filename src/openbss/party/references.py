"""References between the party context's resources: related parties resolved in this
tenant (``href`` and ``name`` filled in), the links kept for them (what refers to a party
or a customer), and the change counter every change bumps."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openbss.core.context import Context
from openbss.core.tmf import is_foreign_ref
from openbss.party import queries
from openbss.party.errors import UnknownReference
from openbss.party.models import Account, Customer, Party, PartyLink
from openbss.party.paths import CUSTOMER_PATH, PATHS

LOCAL_PARTY_TYPES = frozenset({"individual", "organization", "party", "customer"})
Target = tuple[str, str, str]  # (target_type "party" | "customer", target id, role)


def resolve(ctx: Context, ref_id: str, referred_type: str | None
            ) -> Customer | Party | None:
    """The customer or party a related-party reference names in this tenant (``None``:
    no such resource, or an Organization reference to an individual and vice versa)."""
    kind = (referred_type or "").lower()
    if kind == "customer":
        return queries.find(ctx, Customer, ref_id)
    party = queries.find(ctx, Party, ref_id)
    if party is None or (kind in ("individual", "organization") and party.kind != kind):
        return None
    return party


def check_related_parties(ctx: Context, refs: list[dict[str, Any]] | None,
                          prefix: str) -> list[Target]:
    """References to individuals, organizations or customers must exist in this tenant
    (others, e.g. a partner's system, are kept as given). Returns the resolved targets
    as ``(target_type, target_id, role)`` and fills in ``href`` and ``name``."""
    found: list[Target] = []
    for i, ref in enumerate(refs or []):
        referred = ref.get("@referredType", "")
        if referred.lower() not in LOCAL_PARTY_TYPES or is_foreign_ref(ref.get("href"),
                                                                       ctx.base_url):
            continue
        entity = resolve(ctx, ref["id"], referred)
        if entity is None:
            raise UnknownReference(
                f"{prefix}[{i}].id: no {referred} {ref['id']!r} in this tenant",
                field=f"{prefix}[{i}].id",
            )
        if isinstance(entity, Customer):
            found.append(("customer", entity.id, ref.get("role") or ""))
            path = CUSTOMER_PATH
        else:
            found.append(("party", entity.id, ref.get("role") or ""))
            path = PATHS[entity.kind]
        ref.setdefault("href", f"{ctx.base_url.rstrip('/')}{path}/{ref['id']}")
        ref.setdefault("name", entity.name)
    return found


def replace_links(ctx: Context, resource_type: str, resource_id: str,
                  targets: Iterable[Target]) -> None:
    """The links of one referring resource become ``targets`` (duplicates once)."""
    queries.delete_links(ctx, resource_type, resource_id)
    seen: set[Target] = set()
    for target_type, target_id, role in targets:
        key = (target_type, target_id, role[:255])
        if key in seen:
            continue
        seen.add(key)
        ctx.session.add(PartyLink(tenant_id=ctx.tenant_id, target_type=target_type,
                                  target_id=target_id, resource_type=resource_type,
                                  resource_id=resource_id, role=role[:255]))
    ctx.session.flush()


def bump(row: Party | Customer | Account, ctx: Context) -> None:
    """Count a change of ``row`` and stamp it with the business time."""
    row.row_version += 1
    row.updated_at = ctx.now
