"""Use cases of payment methods (TMF670 ``paymentMethod``).

- Kinds (``@type``, the TMF670 values): ``directDebit`` (a SEPA direct-debit mandate:
  IBAN and BIC validated with schwifty, the mandate reference — generated when not given
  —, the signature date, ``mandateType`` ``recurring`` or ``single``, ``mandateCategory``
  ``core`` or ``b2b``), ``bankAccountTransfer`` and ``bankAccountDebit`` (an IBAN),
  ``tokenizedCard`` (the gateway's ``token``, the ``lastFourDigits`` and the expiry —
  never a card number: ``bankCard`` with a ``cardNumber`` is refused), ``voucher``,
  ``cash``, ``check``, ``digitalWallet``. ``DirectDebit``-style capitalised names are
  accepted too.
- Each belongs to exactly one billing account (``account``); ``isPreferred`` makes it the
  account's default (the others lose it).
- The account number and its holder are personal data: sealed with the tenant's data key;
  responses show ``DE02 **** **** **** 2051`` unless the role may see the payment
  family's personal data.
- The sequence of a mandate is ``FRST`` until its first collection was presented, then
  ``RCUR`` (``OOFF`` for a single mandate; it is then spent).
- ``DELETE`` deactivates (status ``inactive``): payments that used it keep pointing at it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from openbss.billing.queries import billing_accounts
from openbss.core import crypto
from openbss.core.context import Context
from openbss.core.crud import validated
from openbss.core.db import new_id
from openbss.core.errors import NotFoundError, ValidationError
from openbss.core.permissions import PERSONAL, allowed
from openbss.core.queries import get_owned, scoped
from openbss.core.resources import record_change
from openbss.core.tmf import ListParams, apply_filters, href, iso, paginate
from openbss.core.tmf_common import (
    AwareDatetime,
    EntityRef,
    Name,
    Polymorphic,
    Quantity,
    RelatedParty,
    Str,
    Text,
    TimePeriod,
)
from openbss.payments.gateways import get as gateway_of
from openbss.payments.models import METHOD_STATES, MethodStatus, PaymentMethod
from openbss.payments.paths import ACCOUNT_PATH, METHOD_API, METHOD_PATH

KINDS = ("cash", "digitalWallet", "tokenizedCard", "bankAccountTransfer", "bankAccountDebit",
         "bankCard", "voucher", "check", "directDebit")
_BY_LOWER = {k.lower(): k for k in KINDS}
BANK_KINDS = frozenset({"directDebit", "bankAccountTransfer", "bankAccountDebit"})
FILTERS: dict[str, Any] = {"account.id": PaymentMethod.billing_account_id,
                           "status": PaymentMethod.status, "@type": PaymentMethod.type,
                           "isPreferred": PaymentMethod.is_preferred,
                           "name": PaymentMethod.name}


#: a SEPA mandate reference: up to 35 of the characters the EPC rulebook allows
MandateRef = Annotated[str, Field(min_length=1, max_length=35,
                                  pattern=r"^[A-Za-z0-9+?/:().,' -]+$")]


class PaymentMethodCreate(Polymorphic):
    """Every attribute of every TMF670 kind; :func:`create_method` checks which apply."""

    type_: Str = Field(alias="@type")
    name: Name
    description: Text | None = None
    is_preferred: bool = False
    authorization_code: Str | None = None
    status: Literal["active", "pending"] = "active"
    status_reason: Text | None = None
    valid_for: TimePeriod | None = None
    account: list[EntityRef] = Field(min_length=1, max_length=1)
    related_party: RelatedParty | None = None
    gateway: Str | None = None  # openbss: the gateway holding a card (default manual)
    # bank accounts and mandates
    account_number: Str | None = None
    account_number_type: Str | None = None
    bic: Str | None = Field(default=None, alias="BIC")
    owner: Name | None = None
    bank: Str | None = None
    mandate_id: MandateRef | None = None
    mandate_type: Literal["recurring", "single"] | None = None
    mandate_category: Literal["core", "b2b", "CORE", "B2B"] | None = None
    signature: Text | None = None
    signature_date: AwareDatetime | None = None
    first_debit_date: AwareDatetime | None = None
    reference: Str | None = None
    # cards
    brand: Str | None = None
    card_type: Str | None = None
    last_four_digits: Str | None = None
    token_type: Str | None = None
    token: Str | None = None
    issuer: Str | None = None
    expiration_date: AwareDatetime | None = None
    country_of_issue: Str | None = None
    card_number: Str | None = None
    # vouchers
    code: Str | None = None
    value: Quantity | None = None
    campaign: Str | None = None


class PaymentMethodUpdate(Polymorphic):
    name: Name | None = None
    description: Text | None = None
    is_preferred: bool | None = None
    status: Literal["active", "inactive"] | None = None
    status_reason: Text | None = None
    valid_for: TimePeriod | None = None


def kind_of(value: str | None, field: str = "@type") -> str:
    kind = _BY_LOWER.get((value or "").lower())
    if kind is None:
        raise ValidationError(f"{field}: {value!r} is not a TMF670 payment method type "
                              f"({', '.join(KINDS)})", field=field)
    return kind


def checked_iban(value: str, field: str = "accountNumber") -> IBAN:
    try:
        return IBAN(value)
    except SchwiftyException as exc:
        raise ValidationError(f"{field}: not a valid IBAN ({exc})", field=field) from None


def checked_bic(value: str, field: str = "BIC") -> BIC:
    try:
        return BIC(value)
    except SchwiftyException as exc:
        raise ValidationError(f"{field}: not a valid BIC ({exc})", field=field) from None


def mask(iban: str) -> str:
    compact = iban.replace(" ", "")
    return f"{compact[:4]} **** **** **** {compact[-4:]}" if len(compact) > 8 else "****"


def _seal(ctx: Context, secret: dict[str, Any]) -> bytes:
    ring = crypto.keyring(ctx.session, ctx.tenant_id)
    return ring.encrypt(json.dumps(secret, sort_keys=True)).encode()


def unseal(ctx: Context, row: PaymentMethod) -> dict[str, Any]:
    if not row.sealed:
        return {}
    opened: dict[str, Any] = json.loads(crypto.decrypt(row.sealed.decode(), ctx.session))
    return opened


def _account_of(ctx: Context, account_id: str) -> str:
    found = billing_accounts(ctx, [account_id])
    if not found:
        raise NotFoundError(f"account[0].id: billingAccount {account_id!r} not found",
                            field="account[0].id")
    return found[0].id


def create_method(ctx: Context, data: PaymentMethodCreate) -> PaymentMethod:
    kind = kind_of(data.type_)
    account_id = _account_of(ctx, data.account[0].id)
    if kind == "bankCard" or data.card_number:
        raise ValidationError("cardNumber: openbss never stores a card number; tokenize the "
                              "card at the gateway and send a tokenizedCard with its token "
                              "and lastFourDigits", field="cardNumber")
    body: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    mandate_id = sequence = signature_date = None
    gateway = "manual"
    if kind in BANK_KINDS:
        if not data.account_number:
            raise ValidationError(f"accountNumber: a {kind} needs the IBAN",
                                  field="accountNumber")
        if not data.owner:
            raise ValidationError(f"owner: a {kind} needs the account holder's name",
                                  field="owner")
        iban = checked_iban(data.account_number)
        bic = checked_bic(data.bic) if data.bic else None
        if bic is None:
            try:
                bic = iban.bic
            except SchwiftyException:
                bic = None
        secret = {"iban": iban.compact, "owner": data.owner}
        body.update({"accountNumber": mask(iban.compact), "accountNumberType": "IBAN",
                     "BIC": str(bic) if bic else None, "owner": _initials(data.owner),
                     "bank": data.bank or (bic.bank_names[0] if bic and bic.bank_names
                                           else None)})
    if kind == "directDebit":
        if data.signature_date is None:
            raise ValidationError("signatureDate: a direct-debit mandate needs the date it "
                                  "was signed", field="signatureDate")
        if data.signature_date.astimezone(UTC).date() > ctx.now.date():
            raise ValidationError("signatureDate: in the future", field="signatureDate")
        mandate_id = data.mandate_id or f"OBSS-{new_id()[:20].upper()}"
        taken = ctx.session.scalars(scoped(ctx, PaymentMethod.id).where(
            PaymentMethod.mandate_id == mandate_id)).first()
        if taken is not None:
            raise ValidationError(f"mandateId: {mandate_id!r} is the reference of another "
                                  "mandate", field="mandateId")
        single = data.mandate_type == "single"
        sequence = "OOFF" if single else "FRST"
        signature_date = data.signature_date.astimezone(UTC).date()
        gateway = "sepa"
        body.update({"mandateId": mandate_id, "mandateType": data.mandate_type or "recurring",
                     "mandateCategory": (data.mandate_category or "core").lower(),
                     "signatureDate": iso(data.signature_date),
                     "mandateStatus": data.status, "reference": data.reference,
                     "firstDebitDate": iso(data.first_debit_date)})
    if kind == "tokenizedCard":
        if not data.token:
            raise ValidationError("token: a tokenizedCard needs the gateway's token",
                                  field="token")
        if not (data.last_four_digits and len(data.last_four_digits) == 4
                and data.last_four_digits.isdigit()):
            raise ValidationError("lastFourDigits: four digits", field="lastFourDigits")
        if data.expiration_date is None:
            raise ValidationError("expirationDate: required for a card",
                                  field="expirationDate")
        gateway = gateway_of(data.gateway or "manual", field="gateway").name
        body.update({"brand": data.brand, "cardType": data.card_type,
                     "lastFourDigits": data.last_four_digits, "tokenType": data.token_type,
                     "issuer": data.issuer, "expirationDate": iso(data.expiration_date),
                     "countryOfIssue": data.country_of_issue})
    if kind == "voucher":
        if not data.code or data.value is None or data.expiration_date is None:
            raise ValidationError("code: a voucher needs code, value and expirationDate",
                                  field="code" if not data.code else "value")
        body.update({"code": data.code, "value": data.value.doc(),
                     "expirationDate": iso(data.expiration_date), "campaign": data.campaign})
    body.update({"description": data.description, "authorizationCode": data.authorization_code,
                 "statusReason": data.status_reason,
                 "relatedParty": data.related_party.doc() if data.related_party else None})
    valid_from = data.valid_for.start_date_time if data.valid_for else None
    valid_to = data.valid_for.end_date_time if data.valid_for else None
    if kind == "tokenizedCard" and data.expiration_date is not None:
        valid_to = min(valid_to, data.expiration_date) if valid_to else data.expiration_date
    row = PaymentMethod(
        id=new_id(), tenant_id=ctx.tenant_id, billing_account_id=account_id, type=kind,
        name=data.name, status=data.status, status_date=ctx.now,
        is_preferred=data.is_preferred, valid_from=valid_from, valid_to=valid_to,
        gateway=gateway, gateway_ref=data.token if kind == "tokenizedCard" else None,
        gateway_customer=None, mandate_id=mandate_id, sequence_type=sequence,
        signature_date=signature_date, sealed=_seal(ctx, secret) if secret else None,
        body={k: v for k, v in body.items() if v is not None}, created_at=ctx.now,
        last_update=ctx.now, row_version=1)
    if row.is_preferred:
        _unprefer(ctx, account_id)
    ctx.session.add(row)
    ctx.session.flush()
    record_change(ctx, api=METHOD_API, resource_name="paymentMethod", resource_id=row.id,
                  change="create", before=None,
                  after={"@type": kind, "account": account_id, "status": row.status,
                         "mandateId": mandate_id},
                  event_resource=render_method(ctx, row, clear=False))
    return row


def _initials(name: str) -> str:
    """The holder's name as shown to roles without personal data: ``E. M.``."""
    return " ".join(f"{part[0]}." for part in name.split() if part) or "*"


def _unprefer(ctx: Context, account_id: str, keep: str | None = None) -> None:
    for other in ctx.session.scalars(scoped(ctx, PaymentMethod).where(
            PaymentMethod.billing_account_id == account_id,
            PaymentMethod.is_preferred.is_(True))):
        if other.id != keep:
            other.is_preferred = False
            other.row_version += 1


def get_method(ctx: Context, method_id: str) -> PaymentMethod:
    return get_owned(ctx.session, PaymentMethod, ctx.tenant_id, method_id, "paymentMethod")


def list_methods(ctx: Context, params: ListParams) -> tuple[list[PaymentMethod], int]:
    stmt = apply_filters(scoped(ctx, PaymentMethod), params, FILTERS)
    return paginate(ctx.session, stmt, params, [PaymentMethod.created_at, PaymentMethod.id])


def update_method(ctx: Context, method_id: str, patch: Any) -> PaymentMethod:
    row = get_method(ctx, method_id)
    if isinstance(patch, dict):
        fixed = {"@type", "account", "accountNumber", "BIC", "owner", "mandateId", "token",
                 "lastFourDigits", "cardNumber", "signatureDate", "id", "href"}
        for key in patch:
            if key in fixed:
                raise ValidationError(f"{key}: cannot be changed; add a new payment method "
                                      "(and deactivate this one)", field=key)
    data = validated(PaymentMethodUpdate, patch)
    before = {"status": row.status, "isPreferred": row.is_preferred, "name": row.name}
    if data.name is not None:
        row.name = data.name
    if data.description is not None:
        row.body = {**row.body, "description": data.description}
    if data.status is not None and data.status != row.status:
        METHOD_STATES.check(row.status, data.status, resource_id=row.id)
        row.status = data.status
        row.status_date = ctx.now
        row.body = {**row.body, "statusReason": data.status_reason} if data.status_reason \
            else row.body
    if data.valid_for is not None:
        row.valid_from = data.valid_for.start_date_time
        row.valid_to = data.valid_for.end_date_time
    if data.is_preferred is not None:
        if data.is_preferred:
            _unprefer(ctx, row.billing_account_id, keep=row.id)
        row.is_preferred = data.is_preferred
    row.last_update = ctx.now
    row.row_version += 1
    ctx.session.flush()
    after = {"status": row.status, "isPreferred": row.is_preferred, "name": row.name}
    record_change(ctx, api=METHOD_API, resource_name="paymentMethod", resource_id=row.id,
                  change="update" if before["status"] == row.status else "state",
                  before=before, after=after, event_resource=render_method(ctx, row,
                                                                           clear=False))
    return row


def deactivate_method(ctx: Context, method_id: str) -> None:
    row = get_method(ctx, method_id)
    if row.status == MethodStatus.INACTIVE:
        return
    METHOD_STATES.check(row.status, MethodStatus.INACTIVE.value, resource_id=row.id)
    before = {"status": row.status}
    row.status = MethodStatus.INACTIVE.value
    row.status_date = ctx.now
    row.is_preferred = False
    row.last_update = ctx.now
    row.row_version += 1
    ctx.session.flush()
    record_change(ctx, api=METHOD_API, resource_name="paymentMethod", resource_id=row.id,
                  change="delete", before=before, after={"status": row.status},
                  event_resource=render_method(ctx, row, clear=False))


def render_method(ctx: Context, row: PaymentMethod, *, clear: bool | None = None
                  ) -> dict[str, Any]:
    """TMF670 ``paymentMethod``; account number and holder in clear only for roles that
    may see the payment family's personal data."""
    if clear is None:
        clear = allowed(ctx.role, "payment", PERSONAL)
    body = dict(row.body or {})
    if clear and row.sealed:
        secret = unseal(ctx, row)
        if secret.get("iban"):
            body["accountNumber"] = IBAN(secret["iban"]).formatted
        if secret.get("owner"):
            body["owner"] = secret["owner"]
    doc: dict[str, Any] = {
        "id": row.id, "href": href(ctx.base_url, METHOD_PATH, row.id), "@type": row.type,
        "name": row.name, "isPreferred": row.is_preferred, "status": row.status,
        "statusDate": iso(row.status_date),
        "account": [{"id": row.billing_account_id,
                     "href": href(ctx.base_url, ACCOUNT_PATH, row.billing_account_id),
                     "@referredType": "BillingAccount"}],
        **body}
    if row.valid_from or row.valid_to:
        doc["validFor"] = {k: v for k, v in (("startDateTime", iso(row.valid_from)),
                                             ("endDateTime", iso(row.valid_to))) if v}
    if row.type == "directDebit":
        doc["mandateStatus"] = row.status
        doc["sequenceType"] = row.sequence_type
    if row.gateway != "manual":
        doc["gateway"] = row.gateway
    return doc


# -- what SEPA collection needs -------------------------------------------------------------


@dataclass(frozen=True)
class Mandate:
    method_id: str
    account_id: str
    mandate_id: str
    sequence_type: str
    signature_date: date
    owner: str
    iban: str
    bic: str | None


def collectable_mandates(ctx: Context, *, on: date) -> dict[str, Mandate]:
    """Per billing account, the mandate a direct debit on ``on`` is collected with: an
    active ``directDebit`` valid that day, the preferred one first, then the newest."""
    moment = datetime(on.year, on.month, on.day, tzinfo=UTC)
    rows = ctx.session.scalars(scoped(ctx, PaymentMethod).where(
        PaymentMethod.type == "directDebit",
        PaymentMethod.status == MethodStatus.ACTIVE.value).order_by(
        PaymentMethod.billing_account_id, PaymentMethod.is_preferred.desc(),
        PaymentMethod.created_at.desc()))
    out: dict[str, Mandate] = {}
    for row in rows:
        if row.billing_account_id in out or row.sealed is None or row.mandate_id is None:
            continue
        if (row.valid_from and row.valid_from > moment) or (row.valid_to
                                                              and row.valid_to < moment):
            continue
        if row.sequence_type == "OOFF" and (row.body or {}).get("presented"):
            continue
        secret = unseal(ctx, row)
        out[row.billing_account_id] = Mandate(
            row.id, row.billing_account_id, row.mandate_id, row.sequence_type or "FRST",
            row.signature_date or on, secret.get("owner") or row.name, secret["iban"],
            (row.body or {}).get("BIC"))
    return out


def mark_presented(ctx: Context, *, method_ids: Sequence[str]) -> None:
    """After a file was written: FRST mandates continue as RCUR, a single one is spent."""
    if not method_ids:
        return
    for row in ctx.session.scalars(scoped(ctx, PaymentMethod).where(
            PaymentMethod.id.in_(list(method_ids)))):
        row.body = {**(row.body or {}), "presented": True, "lastPresentedAt": iso(ctx.now)}
        if row.sequence_type == "FRST":
            row.sequence_type = "RCUR"
        row.last_update = ctx.now
        row.row_version += 1
    ctx.session.flush()


def iban_owner(ctx: Context, account_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """Per billing account, the (IBAN, holder) of its bank methods (any status: a payer
    pays from the account they gave us even after cancelling the mandate)."""
    out: dict[str, list[tuple[str, str]]] = {}
    ids = list(account_ids)
    for start in range(0, len(ids), 900):
        for row in ctx.session.scalars(scoped(ctx, PaymentMethod).where(
                PaymentMethod.billing_account_id.in_(ids[start:start + 900]),
                PaymentMethod.type.in_(sorted(BANK_KINDS)))):
            secret = unseal(ctx, row)
            if secret.get("iban"):
                out.setdefault(row.billing_account_id, []).append(
                    (secret["iban"], secret.get("owner") or ""))
    return out
