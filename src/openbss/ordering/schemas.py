"""TMF637 v4 Product Inventory shapes (request bodies), built from the common shapes of
:mod:`openbss.core.tmf_common`.

Attribute names are the swagger's; an unknown attribute answers 422 naming it. Money is
exact ``Decimal`` with its currency.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictBool

from openbss.core.tmf_common import (
    Amount,
    AwareDatetime,
    Characteristic,
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
from openbss.ordering.models import ProductStatus


class OpenRef(EntityRef):
    """A reference to a resource of another API (agreement, place, service, resource):
    kept as given beyond the reference attributes."""

    model_config = ConfigDict(extra="allow")


class RelatedPlace(OpenRef):
    """TMF ``RelatedPlaceRefOrValue``: a place by reference or by value, in its ``role``
    (installation address, delivery point)."""

    role: Str


class QualificationItemRef(OpenRef):
    """TMF ``ProductOfferingQualificationItemRef``: an item of a qualification."""

    product_offering_qualification_id: Str


class QuoteItemRef(OpenRef):
    """TMF622 ``QuoteItemRef``: the quote item an order item comes from."""

    quote_id: Str


class Price(Polymorphic):
    """TMF ``Price``: the amounts of a price, with and without tax."""

    duty_free_amount: Money | None = None
    tax_included_amount: Money | None = None
    percentage: Annotated[Amount, Field(ge=0, le=100)] | None = None
    tax_rate: Annotated[Amount, Field(ge=0, le=100)] | None = None


class PriceAlteration(Polymorphic):
    application_duration: Annotated[int, Field(ge=0)] | None = None
    description: Text | None = None
    name: Str | None = None
    price_type: Str
    priority: int | None = None
    recurring_charge_period: Str | None = None
    unit_of_measure: Str | None = None
    price: Price
    product_offering_price: EntityRef | None = None


class ProductPrice(Polymorphic):
    description: Text | None = None
    name: Str | None = None
    price_type: Str
    recurring_charge_period: Str | None = None
    unit_of_measure: Str | None = None
    billing_account: EntityRef | None = None
    price: Price
    product_offering_price: EntityRef | None = None
    product_price_alteration: list[PriceAlteration] | None = None


class ProductRef(EntityRef):
    pass


class ProductRelationship(Polymorphic):
    relationship_type: Str
    product: ProductRef


class ProductTerm(Polymorphic):
    description: Text | None = None
    name: Str | None = None
    duration: Quantity | None = None
    valid_for: TimePeriod | None = None


class RelatedProductOrderItem(Polymorphic):
    order_item_action: Str | None = None
    order_item_id: Str
    product_order_href: Text | None = None
    product_order_id: Str
    role: Str | None = None
    referred_type: Str | None = Field(default=None, alias="@referredType")


class Product(Polymorphic):
    """``Product_Create`` / the merged result of a ``Product_Update``."""

    description: Text | None = None
    is_bundle: StrictBool | None = None
    is_customer_visible: StrictBool | None = None
    name: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    order_date: AwareDatetime | None = None
    product_serial_number: Str | None = None
    start_date: AwareDatetime | None = None
    termination_date: AwareDatetime | None = None
    agreement: list[OpenRef] | None = None
    billing_account: EntityRef | None = None
    place: list[RelatedPlace] | None = None
    product: list[ProductRef] | None = None
    product_characteristic: list[Characteristic] | None = None
    product_offering: EntityRef | None = None
    product_order_item: list[RelatedProductOrderItem] | None = None
    product_price: list[ProductPrice] | None = None
    product_relationship: list[ProductRelationship] | None = None
    product_specification: EntityRef | None = None
    product_term: list[ProductTerm] | None = None
    realizing_resource: list[OpenRef] | None = None
    realizing_service: list[OpenRef] | None = None
    related_party: list[RelatedParty] | None = None
    status: ProductStatus
    # -- extension ------------------------------------------------------------------------
    #: How many units of the offering the product is (seats, lines); TMF637 v4 has no
    #: quantity (TMF622 order items do). Default 1.
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] | None = None


# -- product orders (TMF622) ---------------------------------------------------------------
# Prices (``itemPrice``, ``orderTotalPrice``) and states are the server's: a client value
# is accepted for shape and replaced.

class OrderItemRelationship(Polymorphic):
    """``productOrderItemRelationship``: ``bundles`` (this item bundles that one) or
    ``reliesOn`` (this item waits for that one)."""

    id: Annotated[str, Field(min_length=1, max_length=64)]
    relationship_type: Str


class ProductRefOrValue(Polymorphic):
    """The product of an order item: a reference (``id``: the product to modify or
    delete) and/or the values wanted (characteristics, status for suspend/resume …)."""

    id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    href: Text | None = None
    description: Text | None = None
    is_bundle: StrictBool | None = None
    is_customer_visible: StrictBool | None = None
    name: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    product_serial_number: Str | None = None
    agreement: list[OpenRef] | None = None
    billing_account: EntityRef | None = None
    place: list[RelatedPlace] | None = None
    product_characteristic: list[Characteristic] | None = None
    product_offering: EntityRef | None = None
    product_relationship: list[ProductRelationship] | None = None
    product_specification: EntityRef | None = None
    product_term: list[ProductTerm] | None = None
    related_party: list[RelatedParty] | None = None
    status: ProductStatus | None = None
    referred_type: Str | None = Field(default=None, alias="@referredType")


class OrderNote(Polymorphic):
    id: Str | None = None
    author: Str | None = None
    date: AwareDatetime | None = None
    text: Annotated[str, Field(min_length=1, max_length=4000)]


class ProductOrderItem(Polymorphic):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    action: Literal["add", "modify", "delete", "noChange"]
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    appointment: OpenRef | None = None
    billing_account: EntityRef | None = None
    item_price: list[dict[str, Any]] | None = None
    item_term: list[ProductTerm] | None = None
    item_total_price: list[dict[str, Any]] | None = None
    payment: list[OpenRef] | None = None
    product: ProductRefOrValue | None = None
    product_offering: EntityRef | None = None
    product_offering_qualification_item: QualificationItemRef | None = None
    product_order_item_relationship: list[OrderItemRelationship] | None = None
    qualification: list[OpenRef] | None = None
    quote_item: QuoteItemRef | None = None
    state: Str | None = None


class ProductOrderCreate(Polymorphic):
    """``ProductOrder_Create``."""

    category: Str | None = None
    description: Text | None = None
    external_id: Annotated[str, Field(max_length=200)] | None = None
    notification_contact: Str | None = None
    priority: Str | None = None
    requested_completion_date: AwareDatetime | None = None
    requested_start_date: AwareDatetime | None = None
    agreement: list[OpenRef] | None = None
    billing_account: EntityRef | None = None
    channel: list[OpenRef] | None = None
    note: list[OrderNote] | None = None
    order_total_price: list[dict[str, Any]] | None = None
    payment: list[OpenRef] | None = None
    product_offering_qualification: list[OpenRef] | None = None
    product_order_item: Annotated[list[ProductOrderItem], Field(min_length=1, max_length=500)]
    quote: list[OpenRef] | None = None
    related_party: list[RelatedParty] | None = None


class ProductOrderPatch(TmfModel):
    """What a ``PATCH productOrder/{id}`` may change on an open order."""

    category: Str | None = None
    description: Text | None = None
    external_id: Annotated[str, Field(max_length=200)] | None = None
    notification_contact: Str | None = None
    priority: Str | None = None
    note: list[OrderNote] | None = None


class CancelProductOrderCreate(Polymorphic):
    """``CancelProductOrder_Create``."""

    cancellation_reason: Text | None = None
    requested_cancellation_date: AwareDatetime | None = None
    product_order: EntityRef


# -- quotes (TMF648) -----------------------------------------------------------------------
# Prices (``quoteItemPrice``, ``quoteTotalPrice``), ``quoteDate``, the completion dates and
# item states are the server's: a client value is accepted for shape and replaced.

class QuoteItemRelationship(Polymorphic):
    """``quoteItemRelationship``: ``bundles`` or ``reliesOn`` another item of the quote."""

    id: Annotated[str, Field(min_length=1, max_length=64)]
    relationship_type: Str


class QuoteItem(Polymorphic):
    """TMF648 ``QuoteItem``: an offering to add (``productOffering``), or the product to
    ``modify`` / ``delete`` (``product.id``), with quantity and characteristics."""

    id: Annotated[str, Field(min_length=1, max_length=64)]
    action: Literal["add", "modify", "delete", "noChange"]
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    state: Str | None = None
    appointment: list[OpenRef] | None = None
    attachment: list[OpenRef] | None = None
    note: list[OrderNote] | None = None
    product: ProductRefOrValue | None = None
    product_offering: EntityRef | None = None
    product_offering_qualification_item: QualificationItemRef | None = None
    quote_item_authorization: list[dict[str, Any]] | None = None
    quote_item_price: list[dict[str, Any]] | None = None
    quote_item_relationship: list[QuoteItemRelationship] | None = None
    related_party: list[RelatedParty] | None = None


class QuoteCreate(Polymorphic):
    """``Quote_Create`` (and the merged document of a ``PATCH``)."""

    id: Str | None = None
    href: Text | None = None
    category: Str | None = None
    description: Text | None = None
    expected_fulfillment_start_date: AwareDatetime | None = None
    external_id: Annotated[str, Field(max_length=200)] | None = None
    instant_sync_quote: StrictBool | None = None
    requested_quote_completion_date: AwareDatetime | None = None
    version: Str | None = None
    agreement: list[OpenRef] | None = None
    authorization: list[dict[str, Any]] | None = None
    billing_account: Annotated[list[EntityRef], Field(max_length=1)] | None = None
    contact_medium: list[dict[str, Any]] | None = None
    note: list[OrderNote] | None = None
    product_offering_qualification: list[OpenRef] | None = None
    quote_item: Annotated[list[QuoteItem], Field(min_length=1, max_length=500)]
    related_party: list[RelatedParty] | None = None
    valid_for: TimePeriod | None = None
    # -- server attributes (replaced; accepted so a client can send back what it got) ----
    quote_total_price: list[dict[str, Any]] | None = None
    quote_date: AwareDatetime | None = None
    state: Str | None = None
    effective_quote_completion_date: AwareDatetime | None = None
    expected_quote_completion_date: AwareDatetime | None = None
    product_order: OpenRef | None = None


class QuoteOrderRequest(TmfModel):
    """Optional body of ``POST /api/v1/quotes/{id}/order``: order attributes the quote
    does not carry."""

    description: Text | None = None
    external_id: Annotated[str, Field(max_length=200)] | None = None
    priority: Str | None = None
    category: Str | None = None
    requested_start_date: AwareDatetime | None = None
    requested_completion_date: AwareDatetime | None = None
    note: list[OrderNote] | None = None
