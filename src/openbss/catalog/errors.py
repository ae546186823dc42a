"""Error types of the product catalog: one per business rule that can fail.

Each has a stable machine ``code`` and an HTTP status (the TMF Error body carries both)
and is raised naming the offending ``field``. A refused lifecycle change is core's
:class:`~openbss.core.states.InvalidTransitionError` (409 ``invalid_transition``). The
table in docs/catalog.md ("Errors") lists them.
"""

from __future__ import annotations

from openbss.core.errors import ConflictError, CurrencyMismatchError, ValidationError

# -- changing resources ----------------------------------------------------------------------


class NotEditable(ConflictError):
    """A specification, offering or price out of ``In design`` cannot change (except its
    lifecycleStatus, statusReason and the end of validFor): create a new version."""

    code = "not_editable"
    reason = "Not editable after In design"


class NotDeletable(ConflictError):
    """Only resources ``In design`` may be deleted; retire the others."""

    code = "not_deletable"
    reason = "Only resources in design can be deleted"


class StillReferenced(ConflictError):
    """The resource is still referenced (a bundle component, an offering's price or
    specification, a related price, a parent category)."""

    code = "still_referenced"
    reason = "Resource still referenced"


class VersionNotHigher(ConflictError):
    """A new offering version must be higher than every version of the same name."""

    code = "version_not_higher"
    reason = "Version not higher"


# -- activation -------------------------------------------------------------------------------


class PriceMissing(ValidationError):
    """An Active price needs a price (``price.value``, a ``chargeModel`` or a discount's
    ``percentage``); an offering cannot be activated with an unpriced price."""

    code = "price_missing"
    reason = "Price missing"


class BundleComponentNotActive(ConflictError):
    """A bundle is activated only once all its components are Active."""

    code = "bundle_component_not_active"
    reason = "Bundle component not active"


# -- references and structure ------------------------------------------------------------------


class UnknownReference(ValidationError):
    """A reference names a resource that does not exist in this tenant (another
    tenant's resource is indistinguishable from a missing one)."""

    code = "unknown_reference"
    reason = "Unknown reference"


class BundleCycle(ValidationError):
    """A bundle cannot contain itself, directly or through nested bundles; a price cannot
    relate to itself."""

    code = "bundle_cycle"
    reason = "Bundle cycle"


class CategoryCycle(ValidationError):
    """A category cannot be its own parent or ancestor."""

    code = "category_cycle"
    reason = "Category cycle"


class NotApplicable(ValidationError):
    """An attribute that does not apply to the resource as given (``percentage`` on a
    non-discount price, ``chargeModel`` on a one-time price, ``bundledProductOffering``
    without ``isBundle`` …)."""

    code = "not_applicable"
    reason = "Attribute not applicable"


class CurrencyRequired(ValidationError):
    """A price value or charge model needs its currency (``price.unit``)."""

    code = "currency_required"
    reason = "Currency required"


# -- for other contexts --------------------------------------------------------------------------


class NoPriceInCurrency(CurrencyMismatchError):
    """The offering has no price in the buyer's currency (the message lists those it
    has)."""

    code = "no_price_in_currency"
    reason = "No price in currency"


class NotChargeable(ValidationError):
    """The price has no charge model or no currency to charge with."""

    code = "not_chargeable"
    reason = "Price not chargeable"


class NotOrderable(ConflictError):
    """The offering cannot be ordered now (the subclass says why)."""

    code = "not_orderable"
    reason = "Offering not orderable"


class OfferingNotActive(NotOrderable):
    code = "offering_not_active"
    reason = "Offering not active"


class OfferingNotValidAt(NotOrderable):
    code = "offering_not_valid"
    reason = "Offering not valid at that time"


class OfferingNotSellable(NotOrderable):
    code = "offering_not_sellable"
    reason = "Offering sold only inside a bundle"


# -- catalog files ---------------------------------------------------------------------------


class ImportKeyConflict(ValidationError):
    """A catalog file defines a key twice, or refers to a key not defined before."""

    code = "import_key_conflict"
    reason = "Import key conflict"


class InvalidCatalogFile(ValidationError):
    """The file is not a catalog file (not YAML/JSON, unknown section or format)."""

    code = "invalid_catalog_file"
    reason = "Invalid catalog file"


class ImportSourceUnreadable(ValidationError):
    """An importJob's ``url`` is not a readable ``file://`` inside the import directory."""

    code = "import_source_unreadable"
    reason = "Import source unreadable"
