"""TMF620 v4 resource shapes (request bodies) of the product catalog.

Top-level attributes are the swagger's, plus our documented extensions; an unknown
attribute answers 422 naming it. Referenced sub-objects (``ChannelRef``, ``RelatedParty``,
attachments …) keep their free-form TMF shape. Decimal attributes (``price.value``,
``percentage``, quantities) are read exactly: the API parses JSON numbers as ``Decimal``
and decimal strings are accepted too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from openbss.catalog.lifecycle import canonical_status
from openbss.core import tmf_common
from openbss.core.tmf_common import (
    Amount,
    Id,
    Money,
    Name,
    NonNegativeAmount,
    PartialMoney,
    Text,
    TimePeriod,
    TmfModel,
)
from openbss.core.tmf_types import TmfType, Uri

TAX_CATEGORIES = ("standard", "reduced", "zero", "exempt")
BILLING_TIMINGS = ("inAdvance", "inArrears")
PERIOD_TYPES = ("day", "week", "month", "year")
#: Canonical ``priceType`` values; accepted case-insensitively, with ``one time``,
#: ``one-time``, ``onetime`` and ``one_time`` for ``oneTime``.
PRICE_TYPES = ("oneTime", "recurring", "usage", "discount", "penalty")
VALUE_TYPES = ("string", "number", "integer", "boolean", "decimal", "date", "dateTime",
               "object", "msisdn", "quantity")


def _status(value: Any) -> Any:
    if value is None:
        return None
    try:
        return canonical_status(str(value)).value
    except ValueError as exc:
        raise PydanticCustomError("invalid_status", str(exc)) from None


def _price_type(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    squashed = value.replace(" ", "").replace("-", "").replace("_", "").lower()
    for canonical in PRICE_TYPES:
        if canonical.lower() == squashed:
            return canonical
    raise PydanticCustomError(
        "invalid_price_type", "must be one of {allowed} (got {got})",
        {"allowed": ", ".join(PRICE_TYPES), "got": repr(value[:100])},
    )


Status = Annotated[str | None, BeforeValidator(_status)]
#: A catalog version: dotted numbers (``1.0``, ``2.1.3``).
Version = Annotated[str, Field(pattern=r"^\d+(\.\d+){0,3}$")]
# Free-form TMF620 sub-objects, validated against their TMF definitions.
TmfAgreementRef = Annotated[dict[str, Any], TmfType("TMF620.AgreementRef")]
TmfAttachmentRefOrValue = Annotated[dict[str, Any], TmfType("TMF620.AttachmentRefOrValue")]
TmfConstraintRef = Annotated[dict[str, Any], TmfType("TMF620.ConstraintRef")]
TmfPlaceRef = Annotated[dict[str, Any], TmfType("TMF620.PlaceRef")]
TmfPricingLogicAlgorithm = Annotated[dict[str, Any], TmfType("TMF620.PricingLogicAlgorithm")]
TmfCharValueUse = Annotated[
    dict[str, Any], TmfType("TMF620.ProductSpecificationCharacteristicValueUse")]
TmfProductSpecificationRelationship = Annotated[
    dict[str, Any], TmfType("TMF620.ProductSpecificationRelationship")]
TmfRelatedParty = Annotated[dict[str, Any], TmfType("TMF620.RelatedParty")]
TmfResourceCandidateRef = Annotated[dict[str, Any], TmfType("TMF620.ResourceCandidateRef")]
TmfResourceSpecificationRef = Annotated[dict[str, Any], TmfType("TMF620.ResourceSpecificationRef")]
TmfSLARef = Annotated[dict[str, Any], TmfType("TMF620.SLARef")]
TmfServiceCandidateRef = Annotated[dict[str, Any], TmfType("TMF620.ServiceCandidateRef")]
TmfServiceSpecificationRef = Annotated[dict[str, Any], TmfType("TMF620.ServiceSpecificationRef")]
TmfTargetProductSchema = Annotated[dict[str, Any], TmfType("TMF620.TargetProductSchema")]
TmfTaxItem = Annotated[dict[str, Any], TmfType("TMF620.TaxItem")]


class _Open(TmfModel):
    """A TMF sub-object: the attributes we read are typed, others are kept as given."""

    model_config = ConfigDict(extra="allow")


class Ref(_Open):
    """A reference to another resource: its ``id`` (required, as in every TMF620 ``…Ref``)
    in this tenant, or with an ``href`` to another system. Looser than core's
    ``EntityRef``: TMF620's references carry attributes of their own, kept as given."""

    id: Id
    href: Text | None = None
    name: Text | None = None


class Quantity(tmf_common.Quantity):
    """A catalog quantity (a term's duration, a unit of measure) is never negative."""

    amount: NonNegativeAmount | None = None


class IncludedQuantity(TmfModel):
    """Extension: units included in every period before the usage price applies."""

    amount: NonNegativeAmount
    units: Text


class Eligibility(TmfModel):
    """Extension: who may buy the offering (an empty or absent list means anyone)."""

    customer_types: list[Annotated[str, Field(max_length=50)]] = Field(default_factory=list)
    countries: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] = Field(default_factory=list)


class _Resource(TmfModel):
    """Attributes common to every catalog resource."""

    name: Name
    description: Text | None = None
    lifecycle_status: Status = None
    version: Version | None = None
    valid_for: TimePeriod | None = None
    last_update: str | None = None  # set by the server; a client value is ignored
    type_: Annotated[str | None, Field(alias="@type", max_length=100)] = None
    base_type: Annotated[str | None, Field(alias="@baseType", max_length=100)] = None
    schema_location: Annotated[Uri | None, Field(alias="@schemaLocation")] = None


class CatalogIn(_Resource):
    catalog_type: Text | None = None
    category: list[Ref] = Field(default_factory=list)
    related_party: list[TmfRelatedParty] | None = None


class CategoryIn(_Resource):
    is_root: StrictBool | None = None
    parent_id: Annotated[str, Field(max_length=200)] | None = None
    product_offering: list[Ref] | None = None
    sub_category: list[Ref] | None = None


class CharacteristicValue(_Open):
    value_type: Text | None = None
    value_from: Amount | None = None
    value_to: Amount | None = None

    @model_validator(mode="after")
    def _range(self) -> CharacteristicValue:
        if self.value_from is not None and self.value_to is not None and \
                self.value_to < self.value_from:
            raise PydanticCustomError("invalid_range", "valueTo must not be below valueFrom")
        return self


class Characteristic(_Open):
    """A specification's characteristic (not core's name/value ``Characteristic``: this one
    declares the values a product may take)."""

    name: Name
    value_type: str | None = None
    min_cardinality: Annotated[int, Field(ge=0)] | None = None
    max_cardinality: Annotated[int, Field(ge=0)] | None = None
    product_spec_characteristic_value: list[CharacteristicValue] | None = None

    @model_validator(mode="after")
    def _check(self) -> Characteristic:
        if self.value_type is not None and self.value_type not in VALUE_TYPES:
            raise PydanticCustomError(
                "invalid_value_type", "valueType must be one of {allowed}",
                {"allowed": ", ".join(VALUE_TYPES)},
            )
        if self.min_cardinality is not None and self.max_cardinality is not None and \
                self.max_cardinality < self.min_cardinality:
            raise PydanticCustomError(
                "invalid_cardinality", "maxCardinality must not be below minCardinality"
            )
        return self


class ProductSpecificationIn(_Resource):
    brand: Text | None = None
    is_bundle: StrictBool | None = None
    product_number: Text | None = None
    attachment: list[TmfAttachmentRefOrValue] | None = None
    bundled_product_specification: list[Ref] | None = None
    product_spec_characteristic: list[Characteristic] | None = None
    product_specification_relationship: list[TmfProductSpecificationRelationship] | None = None
    related_party: list[TmfRelatedParty] | None = None
    resource_specification: list[TmfResourceSpecificationRef] | None = None
    service_specification: list[TmfServiceSpecificationRef] | None = None
    target_product_schema: TmfTargetProductSchema | None = None


class BundleOption(_Open):
    number_rel_offer_default: Annotated[int, Field(ge=0)] | None = None
    number_rel_offer_lower_limit: Annotated[int, Field(ge=0)] | None = None
    number_rel_offer_upper_limit: Annotated[int, Field(ge=0)] | None = None


class BundledOffering(_Open):
    id: Id
    bundled_product_offering_option: BundleOption | None = None


class OfferingTerm(_Open):
    name: Text | None = None
    duration: Quantity | None = None
    valid_for: TimePeriod | None = None


class ProductOfferingIn(_Resource):
    is_bundle: StrictBool | None = None
    is_sellable: StrictBool | None = None
    status_reason: Text | None = None
    agreement: list[TmfAgreementRef] | None = None
    attachment: list[TmfAttachmentRefOrValue] | None = None
    bundled_product_offering: list[BundledOffering] | None = None
    category: list[Ref] | None = None
    channel: list[Ref] | None = None
    market_segment: list[Ref] | None = None
    place: list[TmfPlaceRef] | None = None
    prod_spec_char_value_use: list[TmfCharValueUse] | None = None
    product_offering_price: list[Ref] | None = None
    product_offering_term: list[OfferingTerm] | None = None
    product_specification: Ref | None = None
    resource_candidate: TmfResourceCandidateRef | None = None
    service_candidate: TmfServiceCandidateRef | None = None
    service_level_agreement: TmfSLARef | None = None
    eligibility: Eligibility | None = None
    #: extension: when a plan change *to* this offering takes effect (docs/catalog.md);
    #: None: an upgrade now, a downgrade at the end of the billing period.
    plan_change_policy: Literal["immediate", "endOfPeriod"] | None = None
    #: extensions billing reads (docs/billing.md): the least a product of this offering is
    #: billed per period (a true-up line makes up the difference), and its place in the
    #: plan ladder (higher = an upgrade); a price's own values win over the offering's
    minimum_commitment: Money | None = None
    rank: StrictInt | None = None


class PopRelationship(_Open):
    id: Id
    relationship_type: Text | None = None


class ProductOfferingPriceIn(_Resource):
    is_bundle: StrictBool | None = None
    percentage: Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False)] | None = None
    price_type: Annotated[str, BeforeValidator(_price_type)]
    recurring_charge_period_length: Annotated[int, Field(ge=1)] | None = None
    recurring_charge_period_type: Literal["day", "week", "month", "year"] | None = None
    bundled_pop_relationship: list[Ref] | None = None
    constraint: list[TmfConstraintRef] | None = None
    place: list[TmfPlaceRef] | None = None
    pop_relationship: list[PopRelationship] | None = None
    price: PartialMoney | None = None
    pricing_logic_algorithm: list[TmfPricingLogicAlgorithm] | None = None
    prod_spec_char_value_use: list[TmfCharValueUse] | None = None
    product_offering_term: list[OfferingTerm] | None = None
    tax: list[TmfTaxItem] | None = None
    unit_of_measure: Quantity | None = None
    # -- extensions ------------------------------------------------------------------------
    tax_category: Literal["standard", "reduced", "zero", "exempt"] = "standard"
    tax_included: StrictBool = False
    billing_timing: Literal["inAdvance", "inArrears"] | None = None
    minimum_commitment: Money | None = None  # per period, as on the offering
    rank: StrictInt | None = None
    charge_model: dict[str, Any] | None = None
    included_quantity: IncludedQuantity | None = None
    application_duration: Annotated[int, Field(ge=1)] | None = None
    # usage prices (priceType usage): which usage they price and how (docs/usage-and-rating.md)
    usage_type: Literal["voice", "sms", "data", "event"] | None = None
    metric: Text | None = None  # the event metric a usage price prices (usageType event)
    rating_plan: Text | None = None  # a tariff's rating plan id (destination-based rating)
    allowance_scope: Literal["product", "bundle", "account"] | None = None
    allowance_destinations: list[Text] | None = None  # destination ids the allowance covers


class ImportJobIn(TmfModel):
    """``url`` (``file://`` inside the import directory) or inline ``content``."""

    url: Annotated[str, Field(max_length=2000)] | None = None
    content: Annotated[str, Field(max_length=20_000_000)] | None = None
    content_type: Text | None = None
    path: Text | None = None
    type_: Annotated[str | None, Field(alias="@type", max_length=100)] = None


class ExportJobIn(TmfModel):
    content_type: Text | None = None
    path: Text | None = None
    query: Text | None = None
    url: Text | None = None
    type_: Annotated[str | None, Field(alias="@type", max_length=100)] = None


class NewVersionIn(TmfModel):
    """Body of ``POST /api/v1/catalog/productOffering/{id}/version`` (both optional)."""

    version: Version | None = None
    valid_for: TimePeriod | None = None


SCHEMAS: dict[str, type[_Resource]] = {
    "catalog": CatalogIn,
    "category": CategoryIn,
    "productSpecification": ProductSpecificationIn,
    "productOffering": ProductOfferingIn,
    "productOfferingPrice": ProductOfferingPriceIn,
}
