"""Request shapes of TMF632 (Individual, Organization), TMF629 (Customer) and TMF666
(BillingAccount, PartyAccount), with openbss extension fields documented in
docs/party.md.

Field names are the TMF ones (camelCase, ``@type`` …); unknown fields are refused (422
naming them) so a typo never disappears silently. Semantic checks that need the tenant
(phone region, references) live in the service; these models check shape and ranges.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

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
    contactType: Str | None = None
    country: Str | None = None
    emailAddress: Annotated[str, StringConstraints(max_length=320)] | None = None
    faxNumber: Str | None = None
    phoneNumber: Str | None = None
    postCode: Str | None = None
    socialNetworkId: Str | None = None
    stateOrProvince: Str | None = None
    street1: Str | None = None
    street2: Str | None = None


class ContactMedium(Tmf):
    mediumType: Str
    preferred: bool | None = None
    characteristic: MediumCharacteristic
    validFor: TimePeriod | None = None


class ExternalReference(Tmf):
    externalReferenceType: Str | None = None
    name: Str


class Attachment(Tmf):
    id: Ref | None = None
    href: Url | None = None
    attachmentType: Str | None = None
    content: Text | None = None
    description: Text | None = None
    mimeType: Str | None = None
    name: Str | None = None
    url: Url | None = None
    size: Quantity | None = None
    validFor: TimePeriod | None = None
    referred_type: Str | None = Field(default=None, alias="@referredType")


class Identification(Tmf):
    identificationId: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    identificationType: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    issuingAuthority: Str | None = None
    issuingDate: AwareDatetime | None = None
    attachment: Attachment | None = None
    validFor: TimePeriod | None = None


class PartyCreditProfile(Tmf):
    creditAgencyName: Str | None = None
    creditAgencyType: Str | None = None
    ratingReference: Str | None = None
    ratingScore: int | None = None
    validFor: TimePeriod | None = None


class TaxDefinition(Tmf):
    id: Ref | None = None
    name: Str | None = None
    taxType: Str | None = None
    referred_type: Str | None = Field(default=None, alias="@referredType")


class TaxExemptionCertificate(Tmf):
    id: Ref | None = None
    attachment: Attachment | None = None
    taxDefinition: list[TaxDefinition] | None = None
    validFor: TimePeriod | None = None


class OtherNameIndividual(Tmf):
    aristocraticTitle: Str | None = None
    familyName: Str | None = None
    familyNamePrefix: Str | None = None
    formattedName: Str | None = None
    fullName: Str | None = None
    generation: Str | None = None
    givenName: Str | None = None
    legalName: Str | None = None
    middleName: Str | None = None
    preferredGivenName: Str | None = None
    title: Str | None = None
    validFor: TimePeriod | None = None


class OtherNameOrganization(Tmf):
    name: Str | None = None
    nameType: Str | None = None
    tradingName: Str | None = None
    validFor: TimePeriod | None = None


class Disability(Tmf):
    disabilityCode: Str | None = None
    disabilityName: Str | None = None
    validFor: TimePeriod | None = None


class LanguageAbility(Tmf):
    isFavouriteLanguage: bool | None = None
    languageCode: Str | None = None
    languageName: Str | None = None
    listeningProficiency: Str | None = None
    readingProficiency: Str | None = None
    speakingProficiency: Str | None = None
    writingProficiency: Str | None = None
    validFor: TimePeriod | None = None


class Skill(Tmf):
    comment: Text | None = None
    evaluatedLevel: Str | None = None
    skillCode: Str | None = None
    skillName: Str | None = None
    validFor: TimePeriod | None = None


class PartyBase(Resource):
    contactMedium: list[ContactMedium] | None = Field(default=None, max_length=50)
    creditRating: list[PartyCreditProfile] | None = None
    externalReference: list[ExternalReference] | None = None
    partyCharacteristic: list[Characteristic] | None = Field(default=None, max_length=200)
    relatedParty: list[RelatedParty] | None = None
    taxExemptionCertificate: list[TaxExemptionCertificate] | None = None


class Individual(PartyBase):
    """TMF632 Individual (``givenName`` and ``familyName`` are required on create)."""

    aristocraticTitle: Str | None = None
    birthDate: AwareDatetime | date | None = None
    countryOfBirth: Str | None = None
    deathDate: AwareDatetime | date | None = None
    familyName: Name
    familyNamePrefix: Str | None = None
    formattedName: Str | None = None
    fullName: Str | None = None
    gender: Str | None = None
    generation: Str | None = None
    givenName: Name
    legalName: Str | None = None
    location: Str | None = None
    maritalStatus: Str | None = None
    middleName: Str | None = None
    nationality: Str | None = None
    placeOfBirth: Str | None = None
    preferredGivenName: Str | None = None
    title: Str | None = None
    disability: list[Disability] | None = None
    individualIdentification: list[Identification] | None = Field(default=None, max_length=20)
    languageAbility: list[LanguageAbility] | None = None
    otherName: list[OtherNameIndividual] | None = None
    skill: list[Skill] | None = None
    status: IndividualStatus = IndividualStatus.INITIALIZED


class OrganizationRelationship(Tmf):
    relationshipType: Str | None = None
    organization: EntityRef | None = None


class Organization(PartyBase):
    """TMF632 Organization (``tradingName`` or ``name`` is required)."""

    isHeadOffice: bool | None = None
    isLegalEntity: bool | None = None
    name: Name | None = None
    nameType: Str | None = None
    organizationType: Str | None = None
    tradingName: Name | None = None
    existsDuring: TimePeriod | None = None
    organizationChildRelationship: list[OrganizationRelationship] | None = None
    organizationIdentification: list[Identification] | None = Field(default=None,
                                                                    max_length=20)
    organizationParentRelationship: OrganizationRelationship | None = None
    otherName: list[OtherNameOrganization] | None = None
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

    creditProfileDate: AwareDatetime
    creditRiskRating: int | None = Field(default=None, ge=0, le=1000)
    creditScore: int | None = Field(default=None, ge=0, le=1000)
    creditLimit: Money | None = None
    validFor: TimePeriod


class Customer(Resource):
    name: Name
    status: CustomerStatus = CustomerStatus.INITIALIZED
    statusReason: Text | None = None
    engagedParty: RelatedParty
    account: list[CustomerAccountRef] | None = None
    agreement: list[EntityRef] | None = None
    characteristic: list[Characteristic] | None = Field(default=None, max_length=200)
    contactMedium: list[ContactMedium] | None = Field(default=None, max_length=50)
    creditProfile: list[CreditProfile] | None = None
    paymentMethod: list[EntityRef] | None = None
    relatedParty: list[RelatedParty] | None = None
    validFor: TimePeriod | None = None


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
    isRef: bool = False
    description: Text | None = None
    frequency: Frequency = "monthly"
    anchorDay: int = Field(default=1, ge=1, le=31)
    alignment: Alignment = "calendar"
    timeZone: Str = "UTC"
    billingDateShift: int | None = None
    billingPeriod: Str | None = None
    chargeDateOffset: int | None = None
    creditDateOffset: int | None = None
    dateShift: int | None = None
    mailingDateOffset: int | None = None
    paymentDueDateOffset: int | None = Field(default=None, ge=0, le=365)
    validFor: TimePeriod | None = None
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
    isRef: bool = False
    description: Text | None = None
    referred_type: Str | None = Field(default=None, alias="@referredType")


class PresentationMediaRef(NamedRefOrValue):
    name: PresentationMedia


class BillStructure(Tmf):
    """TMF666 BillStructure plus the ``locale`` extension (bill language/locale)."""

    cycleSpecification: CycleSpecification | None = None
    format: NamedRefOrValue | None = None
    presentationMedia: list[PresentationMediaRef] | None = Field(default=None, max_length=5)
    locale: Annotated[str, StringConstraints(max_length=35)] | None = None


class AccountRef(Tmf):
    id: Ref
    href: Url | None = None
    description: Text | None = None
    name: Str | None = None
    referred_type: Str | None = Field(default=None, alias="@referredType")


class AccountRelationship(Tmf):
    relationshipType: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    account: AccountRef
    validFor: TimePeriod | None = None


class Contact(Tmf):
    contactName: Str | None = None
    contactType: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    partyRoleType: Str | None = None
    contactMedium: list[ContactMedium] | None = Field(default=None, max_length=20)
    relatedParty: RelatedParty | None = None
    validFor: TimePeriod | None = None


class PaymentPlan(Tmf):
    numberOfPayments: int | None = Field(default=None, ge=1)
    paymentFrequency: Str | None = None
    planType: Str | None = None
    priority: int | None = None
    status: Str | None = None
    paymentMethod: EntityRef | None = None
    totalAmount: Money | None = None
    validFor: TimePeriod | None = None


class AccountTaxExemption(Tmf):
    certificateNumber: Str | None = None
    issuingJurisdiction: Annotated[str, StringConstraints(min_length=2, max_length=64)]
    reason: Text | None = None
    validFor: TimePeriod | None = None


class PaymentTerms(TmfModel):
    """openbss extension: when an invoice of the account falls due."""

    name: Str | None = None
    dueDays: int = Field(ge=0, le=365)

    @model_validator(mode="after")
    def _named(self) -> PaymentTerms:
        if self.name is None:
            self.name = "due on receipt" if self.dueDays == 0 else f"net {self.dueDays}"
        return self


class TaxIdentification(TmfModel):
    """openbss extension: the account's VAT id (the identification shape of TMF632)."""

    identificationType: Literal["VAT"] = "VAT"
    identificationId: Annotated[str, StringConstraints(min_length=2, max_length=64)]
    issuingAuthority: Str | None = None


class AccountBalance(Tmf):
    balanceType: Str
    amount: Money
    validFor: TimePeriod


class FinancialAccountRef(Tmf):
    id: Ref
    href: Url | None = None
    name: Str | None = None
    referred_type: Str | None = Field(default=None, alias="@referredType")
    accountBalance: AccountBalance | None = None


class Account(Resource):
    """TMF666 BillingAccount / PartyAccount with the openbss extensions ``currency``,
    ``paymentTerms``, ``paidByParent`` and ``taxIdentification``."""

    name: Name
    description: Text | None = None
    accountType: Str | None = None
    paymentStatus: Str | None = None
    state: AccountState = AccountState.ACTIVE
    relatedParty: list[RelatedParty] = Field(min_length=1, max_length=50)
    accountRelationship: list[AccountRelationship] | None = Field(default=None,
                                                                  max_length=100)
    billStructure: BillStructure | None = None
    contact: list[Contact] | None = Field(default=None, max_length=20)
    creditLimit: Money | None = None
    defaultPaymentMethod: EntityRef | None = None
    financialAccount: FinancialAccountRef | None = None
    paymentPlan: list[PaymentPlan] | None = None
    taxExemption: list[AccountTaxExemption] | None = None
    # openbss extensions (TMF666 v4 has no currency: when absent, the tenant's default)
    currency: Currency | None = None
    paymentTerms: PaymentTerms | None = None
    paidByParent: bool = False
    taxIdentification: TaxIdentification | None = None
    # Server-managed, but listed in TMF666 BillingAccount_Create: accepted and ignored.
    lastModified: AwareDatetime | None = Field(default=None, exclude=True)
    accountBalance: list[dict[str, Any]] | None = Field(default=None, exclude=True,
                                                        max_length=20)
