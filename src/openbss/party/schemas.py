"""Request shapes of TMF632 (Individual, Organization), TMF629 (Customer) and TMF666
(BillingAccount, PartyAccount), with openbss extension fields documented in
docs/party.md.

The common TMF shapes (``TimePeriod``, ``Money``, ``Quantity``, ``EntityRef``,
``RelatedParty``, ``Characteristic``, ``AwareDatetime``) come from
:mod:`openbss.core.tmf_common`; the party's own sub-resources are here. As there,
attributes are snake_case in Python and the TMF camelCase names on the wire
(``contact_medium`` is ``contactMedium``, ``type_`` is ``@type``); unknown fields are
refused (422 naming them) so a typo never disappears silently. Statuses are the StrEnums
of :mod:`openbss.party.states`. Semantic checks that need the tenant (phone region,
references) live in the use cases; these models check shape and ranges.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictBool, StringConstraints, model_validator

from openbss.core.tmf_common import (
    AwareDatetime,
    Characteristic,
    Currency,
    EntityRef,
    Money,
    Polymorphic,
    Quantity,
    RelatedParty,
    Str,
    Text,
    TimePeriod,
    TmfModel,
)
from openbss.core.tmf_types import Uri
from openbss.party.states import AccountState, CustomerStatus, IndividualStatus, OrganizationStatus

__all__ = ["AwareDatetime", "Characteristic", "EntityRef", "Money", "Quantity",
           "RelatedParty", "TimePeriod"]

#: A name the party context stores in a 300-character column (stricter than the common
#: ``Name``).
Name = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Ref = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Url = Uri  # absolute URIs (TMF format: uri): href, @schemaLocation, url
Tmf = Polymorphic  # every party sub-resource: strict, with the polymorphism attributes


class Resource(Tmf):
    """A party resource: its status is a StrEnum of :mod:`openbss.party.states`, stored
    and served as its plain value."""

    model_config = ConfigDict(use_enum_values=True, validate_default=True)


class MediumCharacteristic(Tmf):
    city: Str | None = None
    contact_type: Str | None = None
    country: Str | None = None
    email_address: Annotated[str, StringConstraints(max_length=320)] | None = None
    fax_number: Str | None = None
    phone_number: Str | None = None
    post_code: Str | None = None
    social_network_id: Str | None = None
    state_or_province: Str | None = None
    street1: Str | None = None
    street2: Str | None = None


class ContactMedium(Tmf):
    medium_type: Str
    preferred: StrictBool | None = None
    characteristic: MediumCharacteristic
    valid_for: TimePeriod | None = None


class ExternalReference(Tmf):
    external_reference_type: Str | None = None
    name: Str


class Attachment(Tmf):
    id: Ref | None = None
    href: Url | None = None
    attachment_type: Str | None = None
    content: Text | None = None
    description: Text | None = None
    mime_type: Str | None = None
    name: Str | None = None
    url: Url | None = None
    size: Quantity | None = None
    valid_for: TimePeriod | None = None
    referred_type: Str | None = Field(default=None, alias="@referredType")


class Identification(Tmf):
    identification_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    identification_type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    issuing_authority: Str | None = None
    issuing_date: AwareDatetime | None = None
    attachment: Attachment | None = None
    valid_for: TimePeriod | None = None


class PartyCreditProfile(Tmf):
    credit_agency_name: Str | None = None
    credit_agency_type: Str | None = None
    rating_reference: Str | None = None
    rating_score: int | None = None
    valid_for: TimePeriod | None = None


class TaxDefinition(Tmf):
    id: Ref | None = None
    name: Str | None = None
    tax_type: Str | None = None
    referred_type: Str | None = Field(default=None, alias="@referredType")


class TaxExemptionCertificate(Tmf):
    id: Ref | None = None
    attachment: Attachment | None = None
    tax_definition: list[TaxDefinition] | None = None
    valid_for: TimePeriod | None = None


class OtherNameIndividual(Tmf):
    aristocratic_title: Str | None = None
    family_name: Str | None = None
    family_name_prefix: Str | None = None
    formatted_name: Str | None = None
    full_name: Str | None = None
    generation: Str | None = None
    given_name: Str | None = None
    legal_name: Str | None = None
    middle_name: Str | None = None
    preferred_given_name: Str | None = None
    title: Str | None = None
    valid_for: TimePeriod | None = None


class OtherNameOrganization(Tmf):
    name: Str | None = None
    name_type: Str | None = None
    trading_name: Str | None = None
    valid_for: TimePeriod | None = None


class Disability(Tmf):
    disability_code: Str | None = None
    disability_name: Str | None = None
    valid_for: TimePeriod | None = None


class LanguageAbility(Tmf):
    is_favourite_language: StrictBool | None = None
    language_code: Str | None = None
    language_name: Str | None = None
    listening_proficiency: Str | None = None
    reading_proficiency: Str | None = None
    speaking_proficiency: Str | None = None
    writing_proficiency: Str | None = None
    valid_for: TimePeriod | None = None


class Skill(Tmf):
    comment: Text | None = None
    evaluated_level: Str | None = None
    skill_code: Str | None = None
    skill_name: Str | None = None
    valid_for: TimePeriod | None = None


class PartyBase(Resource):
    contact_medium: list[ContactMedium] | None = Field(default=None, max_length=50)
    credit_rating: list[PartyCreditProfile] | None = None
    external_reference: list[ExternalReference] | None = None
    party_characteristic: list[Characteristic] | None = Field(default=None, max_length=200)
    related_party: list[RelatedParty] | None = None
    tax_exemption_certificate: list[TaxExemptionCertificate] | None = None


class Individual(PartyBase):
    """TMF632 Individual (``givenName`` and ``familyName`` are required on create)."""

    aristocratic_title: Str | None = None
    birth_date: AwareDatetime | date | None = None
    country_of_birth: Str | None = None
    death_date: AwareDatetime | date | None = None
    family_name: Name
    family_name_prefix: Str | None = None
    formatted_name: Str | None = None
    full_name: Str | None = None
    gender: Str | None = None
    generation: Str | None = None
    given_name: Name
    legal_name: Str | None = None
    location: Str | None = None
    marital_status: Str | None = None
    middle_name: Str | None = None
    nationality: Str | None = None
    place_of_birth: Str | None = None
    preferred_given_name: Str | None = None
    title: Str | None = None
    disability: list[Disability] | None = None
    individual_identification: list[Identification] | None = Field(default=None, max_length=20)
    language_ability: list[LanguageAbility] | None = None
    other_name: list[OtherNameIndividual] | None = None
    skill: list[Skill] | None = None
    status: IndividualStatus = IndividualStatus.INITIALIZED


class OrganizationRelationship(Tmf):
    relationship_type: Str | None = None
    organization: EntityRef | None = None


class Organization(PartyBase):
    """TMF632 Organization (``tradingName`` or ``name`` is required)."""

    is_head_office: StrictBool | None = None
    is_legal_entity: StrictBool | None = None
    name: Name | None = None
    name_type: Str | None = None
    organization_type: Str | None = None
    trading_name: Name | None = None
    exists_during: TimePeriod | None = None
    organization_child_relationship: list[OrganizationRelationship] | None = None
    organization_identification: list[Identification] | None = Field(default=None,
                                                                    max_length=20)
    organization_parent_relationship: OrganizationRelationship | None = None
    other_name: list[OtherNameOrganization] | None = None
    status: OrganizationStatus = OrganizationStatus.INITIALIZED


# --- TMF629 Customer ----------------------------------------------------------------------

class CustomerAccountRef(Tmf):
    id: Ref
    href: Url | None = None
    description: Text | None = None
    name: Str
    referred_type: Str | None = Field(default=None, alias="@referredType")


class CreditProfile(Tmf):
    """TMF629 CreditProfile; ``creditLimit`` is an openbss extension (Money)."""

    credit_profile_date: AwareDatetime
    credit_risk_rating: int | None = Field(default=None, ge=0, le=1000)
    credit_score: int | None = Field(default=None, ge=0, le=1000)
    credit_limit: Money | None = None
    valid_for: TimePeriod


class Customer(Resource):
    name: Name
    status: CustomerStatus = CustomerStatus.INITIALIZED
    status_reason: Text | None = None
    engaged_party: RelatedParty
    account: list[CustomerAccountRef] | None = None
    agreement: list[EntityRef] | None = None
    characteristic: list[Characteristic] | None = Field(default=None, max_length=200)
    contact_medium: list[ContactMedium] | None = Field(default=None, max_length=50)
    credit_profile: list[CreditProfile] | None = None
    payment_method: list[EntityRef] | None = None
    related_party: list[RelatedParty] | None = None
    valid_for: TimePeriod | None = None


# --- TMF666 accounts -----------------------------------------------------------------------

Frequency = Literal["monthly", "quarterly", "yearly"]
Alignment = Literal["calendar", "anniversary"]
# TMF leaves the name free ("Post Mail", "e-bill"); email, pdf, paper and portal are the
# channels openbss itself delivers to (docs/party.md).
PresentationMedia = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class CycleSpecification(Tmf):
    """TMF666 BillingCycleSpecificationRefOrValue plus the openbss extensions
    ``anchorDay``, ``alignment`` and ``timeZone``."""

    id: Ref | None = None
    href: Url | None = None
    name: Str | None = None
    is_ref: StrictBool = False
    description: Text | None = None
    frequency: Frequency = "monthly"
    anchor_day: int = Field(default=1, ge=1, le=31)
    alignment: Alignment = "calendar"
    time_zone: Str = "UTC"
    billing_date_shift: int | None = None
    billing_period: Str | None = None
    charge_date_offset: int | None = None
    credit_date_offset: int | None = None
    date_shift: int | None = None
    mailing_date_offset: int | None = None
    payment_due_date_offset: int | None = Field(default=None, ge=0, le=365)
    valid_for: TimePeriod | None = None
    referred_type: Str | None = Field(default=None, alias="@referredType")

    @model_validator(mode="after")
    def _named(self) -> CycleSpecification:
        if self.name is None:
            self.name = f"{self.frequency} {self.alignment}"
        return self


class NamedRefOrValue(Tmf):
    id: Ref | None = None
    href: Url | None = None
    name: Str
    is_ref: StrictBool = False
    description: Text | None = None
    referred_type: Str | None = Field(default=None, alias="@referredType")


class PresentationMediaRef(NamedRefOrValue):
    name: PresentationMedia


class BillStructure(Tmf):
    """TMF666 BillStructure plus the ``locale`` extension (bill language/locale)."""

    cycle_specification: CycleSpecification | None = None
    format: NamedRefOrValue | None = None
    presentation_media: list[PresentationMediaRef] | None = Field(default=None, max_length=5)
    locale: Annotated[str, StringConstraints(max_length=35)] | None = None


class AccountRef(Tmf):
    id: Ref
    href: Url | None = None
    description: Text | None = None
    name: Str | None = None
    referred_type: Str | None = Field(default=None, alias="@referredType")


class AccountRelationship(Tmf):
    relationship_type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    account: AccountRef
    valid_for: TimePeriod | None = None


class Contact(Tmf):
    contact_name: Str | None = None
    contact_type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    party_role_type: Str | None = None
    contact_medium: list[ContactMedium] | None = Field(default=None, max_length=20)
    related_party: RelatedParty | None = None
    valid_for: TimePeriod | None = None


class PaymentPlan(Tmf):
    number_of_payments: int | None = Field(default=None, ge=1)
    payment_frequency: Str | None = None
    plan_type: Str | None = None
    priority: int | None = None
    status: Str | None = None
    payment_method: EntityRef | None = None
    total_amount: Money | None = None
    valid_for: TimePeriod | None = None


class AccountTaxExemption(Tmf):
    certificate_number: Str | None = None
    issuing_jurisdiction: Annotated[str, StringConstraints(min_length=2, max_length=64)]
    reason: Text | None = None
    valid_for: TimePeriod | None = None


class PaymentTerms(TmfModel):
    """openbss extension: when an invoice of the account falls due."""

    name: Str | None = None
    due_days: int = Field(ge=0, le=365)

    @model_validator(mode="after")
    def _named(self) -> PaymentTerms:
        if self.name is None:
            self.name = "due on receipt" if self.due_days == 0 else f"net {self.due_days}"
        return self


class TaxIdentification(TmfModel):
    """openbss extension: the account's VAT id (the identification shape of TMF632)."""

    identification_type: Literal["VAT"] = "VAT"
    identification_id: Annotated[str, StringConstraints(min_length=2, max_length=64)]
    issuing_authority: Str | None = None


class AccountBalance(Tmf):
    balance_type: Str
    amount: Money
    valid_for: TimePeriod


class FinancialAccountRef(Tmf):
    id: Ref
    href: Url | None = None
    name: Str | None = None
    referred_type: Str | None = Field(default=None, alias="@referredType")
    account_balance: AccountBalance | None = None


class Account(Resource):
    """TMF666 BillingAccount / PartyAccount with the openbss extensions ``currency``,
    ``paymentTerms``, ``paidByParent`` and ``taxIdentification``."""

    name: Name
    description: Text | None = None
    account_type: Str | None = None
    payment_status: Str | None = None
    state: AccountState = AccountState.ACTIVE
    related_party: list[RelatedParty] = Field(min_length=1, max_length=50)
    account_relationship: list[AccountRelationship] | None = Field(default=None,
                                                                  max_length=100)
    bill_structure: BillStructure | None = None
    contact: list[Contact] | None = Field(default=None, max_length=20)
    credit_limit: Money | None = None
    default_payment_method: EntityRef | None = None
    financial_account: FinancialAccountRef | None = None
    payment_plan: list[PaymentPlan] | None = None
    tax_exemption: list[AccountTaxExemption] | None = None
    # openbss extensions (TMF666 v4 has no currency: when absent, the tenant's default)
    currency: Currency | None = None
    payment_terms: PaymentTerms | None = None
    paid_by_parent: StrictBool = False
    tax_identification: TaxIdentification | None = None
    # Server-managed, but listed in TMF666 BillingAccount_Create: accepted and ignored.
    last_modified: AwareDatetime | None = Field(default=None, exclude=True)
    account_balance: list[dict[str, Any]] | None = Field(default=None, exclude=True,
                                                        max_length=20)
