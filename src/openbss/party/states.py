"""The statuses of the party context's resources and their allowed transitions, declared
once (pure; checked by :class:`openbss.core.states.StateMachine`).

Staying in a status is always allowed; a status without outgoing transitions is final.
Every status change reads the current row under its row lock first
(``get_owned(..., lock=True)``), so the status checked is the status changed.
"""

from __future__ import annotations

from enum import StrEnum

from openbss.core.states import StateMachine


class IndividualStatus(StrEnum):
    INITIALIZED = "initialized"
    VALIDATED = "validated"
    DECEADED = "deceaded"  # TMF632's spelling


class OrganizationStatus(StrEnum):
    INITIALIZED = "initialized"
    VALIDATED = "validated"
    CLOSED = "closed"


class CustomerStatus(StrEnum):
    INITIALIZED = "initialized"
    VALIDATED = "validated"
    ACTIVE = "active"
    CLOSED = "closed"


class AccountState(StrEnum):
    INITIALIZED = "initialized"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


INDIVIDUAL_STATES = StateMachine("individual", IndividualStatus, field="status", transitions={
    IndividualStatus.INITIALIZED: {IndividualStatus.VALIDATED, IndividualStatus.DECEADED},
    IndividualStatus.VALIDATED: {IndividualStatus.INITIALIZED, IndividualStatus.DECEADED},
})
ORGANIZATION_STATES = StateMachine(
    "organization", OrganizationStatus, field="status", transitions={
        OrganizationStatus.INITIALIZED: {OrganizationStatus.VALIDATED,
                                         OrganizationStatus.CLOSED},
        OrganizationStatus.VALIDATED: {OrganizationStatus.INITIALIZED,
                                       OrganizationStatus.CLOSED},
    })
CUSTOMER_STATES = StateMachine("customer", CustomerStatus, field="status", transitions={
    CustomerStatus.INITIALIZED: {CustomerStatus.VALIDATED, CustomerStatus.CLOSED},
    CustomerStatus.VALIDATED: {CustomerStatus.ACTIVE, CustomerStatus.CLOSED},
    CustomerStatus.ACTIVE: {CustomerStatus.CLOSED},
})
ACCOUNT_STATES = StateMachine("account", AccountState, field="state", transitions={
    AccountState.INITIALIZED: {AccountState.ACTIVE, AccountState.CLOSED},
    AccountState.ACTIVE: {AccountState.SUSPENDED, AccountState.CLOSED},
    AccountState.SUSPENDED: {AccountState.ACTIVE, AccountState.CLOSED},
})

#: The state machine of each party kind.
PARTY_STATES: dict[str, StateMachine[IndividualStatus] | StateMachine[OrganizationStatus]] = {
    "individual": INDIVIDUAL_STATES, "organization": ORGANIZATION_STATES}
