"""TMF635 v4 Usage Management shapes (request bodies), built from the common shapes of
:mod:`openbss.core.tmf_common`.

The rule for a usage body: the **schema** checks that it is a usage at all — known
attributes only, JSON types right (``usageCharacteristic`` a list of name/value pairs,
``usageDate`` a string …); a body that fails it answers 422 naming the field and nothing
is stored. What the values *mean* (a date that does not parse, an unknown usage type, no
identifier, a negative duration) is the pipeline's business: such a record is stored
``rejected`` with its reason, so it can be corrected and reprocessed. ``status`` and
``ratedProductUsage`` are computed by openbss and refused on input.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StrictBool

from openbss.core.tmf_common import (
    Characteristic,
    EntityRef,
    Polymorphic,
    RelatedParty,
    Str,
    Text,
    TimePeriod,
    TmfModel,
)
from openbss.core.tmf_types import TmfType

TmfAttachment = Annotated[dict[str, Any], TmfType("TMF635.AttachmentRefOrValue")]
TmfConstraintRef = Annotated[dict[str, Any], TmfType("TMF635.ConstraintRef")]
TmfSpecRelationship = Annotated[dict[str, Any],
                                TmfType("TMF635.EntitySpecificationRelationship")]
TmfTargetSchema = Annotated[dict[str, Any], TmfType("TMF635.TargetEntitySchema")]
TmfCharacteristicSpecification = Annotated[dict[str, Any],
                                           TmfType("TMF635.CharacteristicSpecification")]
TmfCharacteristicRelationship = Annotated[dict[str, Any],
                                          TmfType("TMF635.CharacteristicRelationship")]

#: The most characteristics one usage may carry.
MAX_CHARACTERISTICS = 100


class UsageCharacteristic(Characteristic):
    """A name/value pair of a usage (``msisdn``, ``calledNumber``, ``duration`` …)."""

    characteristic_relationship: list[TmfCharacteristicRelationship] | None = \
        Field(default=None, max_length=20)


class UsageSpecificationRef(EntityRef):
    pass


class Usage(Polymorphic):
    """A TMF635 usage as POSTed (and as PATCHed: only ``description`` and
    ``usageCharacteristic`` of a rejected record may change)."""

    description: Text | None = None
    usage_date: Annotated[str, Field(max_length=64)] | None = None
    usage_type: Annotated[str, Field(max_length=64)] | None = None
    usage_characteristic: list[UsageCharacteristic] | None = \
        Field(default=None, max_length=MAX_CHARACTERISTICS)
    related_party: list[RelatedParty] | None = Field(default=None, max_length=20)
    usage_specification: UsageSpecificationRef | None = None


class UsageSpecification(Polymorphic):
    """A TMF635 usage specification: what a kind of usage record carries."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Text | None = None
    is_bundle: StrictBool | None = None
    last_update: Str | None = None
    lifecycle_status: Str | None = None
    version: Str | None = None
    attachment: list[TmfAttachment] | None = Field(default=None, max_length=50)
    constraint: list[TmfConstraintRef] | None = Field(default=None, max_length=50)
    entity_spec_relationship: list[TmfSpecRelationship] | None = \
        Field(default=None, max_length=50)
    related_party: list[RelatedParty] | None = Field(default=None, max_length=20)
    spec_characteristic: list[TmfCharacteristicSpecification] | None = \
        Field(default=None, max_length=200)
    target_entity_schema: TmfTargetSchema | None = None
    valid_for: TimePeriod | None = None


class RejectsReprocess(TmfModel):
    """``POST /api/v1/usage/rejects/reprocess``: which rejects (a reason code; all when
    absent)."""

    reason: Annotated[str, Field(max_length=32)] | None = None
