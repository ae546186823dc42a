"""The business rules of the party context that can refuse a request, one error type
each, with a stable machine ``code`` (docs/party.md, "Errors"). Every 409 names the
``field`` it is about; blockers (reasons a close, delete or erasure must wait) are listed
in ``details`` as ``{"reason": …}``.

A refused status change is :class:`openbss.core.states.InvalidTransitionError`
(``invalid_transition``), raised by the state machines of :mod:`openbss.party.states`.
"""

from __future__ import annotations

from collections.abc import Sequence

from openbss.core.errors import ConflictError, ValidationError


class _Blocked(ConflictError):
    """A conflict with a list of reasons (each becomes a ``details`` entry)."""

    def __init__(self, message: str, *, field: str, reasons: Sequence[str]) -> None:
        super().__init__(message + ": " + "; ".join(reasons), field=field,
                         details=[{"field": field, "reason": r} for r in reasons])


class PartyAnonymized(ConflictError):
    """An anonymised individual cannot be changed (field ``anonymized``)."""

    code = "party_anonymized"
    reason = "Party anonymised"


class PartyAlreadyAnonymized(ConflictError):
    code = "party_already_anonymized"
    reason = "Party already anonymised"


class PartyNotErasable(_Blocked):
    """Anonymisation must wait: open balances, active products, erasure checks."""

    code = "party_not_erasable"
    reason = "Party cannot be anonymised yet"


class PartyReferenced(ConflictError):
    """A party that customers or accounts refer to cannot be deleted."""

    code = "party_referenced"
    reason = "Party is referenced"


class CustomerClosed(ConflictError):
    """A closed customer cannot be changed (closed is final)."""

    code = "customer_closed"
    reason = "Customer closed"


class CustomerNotClosable(_Blocked):
    code = "customer_not_closable"
    reason = "Customer cannot be closed"


class CustomerNotDeletable(ConflictError):
    """Only an initialized or closed customer can be deleted."""

    code = "customer_not_deletable"
    reason = "Customer cannot be deleted"


class CustomerHasAccounts(ConflictError):
    code = "customer_has_accounts"
    reason = "Customer has accounts"


class AccountClosed(ConflictError):
    """A closed account cannot be changed (closed is final)."""

    code = "account_closed"
    reason = "Account closed"


class AccountNotClosable(_Blocked):
    """Closing must wait: an open balance, a close check, child accounts not closed."""

    code = "account_not_closable"
    reason = "Account cannot be closed"


class AccountNotDeletable(_Blocked):
    code = "account_not_deletable"
    reason = "Account cannot be deleted"


class AccountHasChildren(ConflictError):
    code = "account_has_children"
    reason = "Account has child accounts"


class CurrencyImmutable(ConflictError):
    """The currency an account bills in never changes."""

    code = "currency_immutable"
    reason = "Currency cannot change"


class CreatedFinal(ValidationError):
    """A customer or account cannot be created in its final status (422)."""

    code = "created_final"
    reason = "Cannot be created in a final status"


class UnknownReference(ValidationError):
    """A reference names no resource of that kind in this tenant (422)."""

    code = "unknown_reference"
    reason = "Unknown reference"
