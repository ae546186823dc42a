"""TMF637 v4 Product Inventory shapes (request bodies), built from the common shapes of
:mod:`openbss.core.tmf_common`.

Attribute names are the swagger's; an unknown attribute answers 422 naming it. Money is
exact ``Decimal`` with its currency.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

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
)
from openbss.ordering.models import ProductStatus


class OpenRef(EntityRef):
    """A reference to a resource of another API (agreement, place, service, resource):
    kept as given beyond the reference attributes."""

    model_config = ConfigDict(extra="allow")


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
    is_bundle: bool | None = None
    is_customer_visible: bool | None = None
    name: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    order_date: AwareDatetime | None = None
    product_serial_number: Str | None = None
    start_date: AwareDatetime | None = None
    termination_date: AwareDatetime | None = None
    agreement: list[OpenRef] | None = None
    billing_account: EntityRef | None = None
    place: list[OpenRef] | None = None
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
