"""Catalog files: the file format (YAML or JSON) and importing whole catalogs.

The format (documented in docs/catalog.md) is TMF620 documents without ids, grouped by
resource, where resources refer to each other by a local ``key``::

    format: openbss-catalog/1
    category:              [{key, name, parentId: <category key>, ...}]
    productSpecification:  [{key, name, productSpecCharacteristic: [...], ...}]
    productOffering:       [{key, name, productSpecification: {key: ...},
                             category: [{key: ...}], bundledProductOffering: [{key: ...}],
                             productOfferingPrice: [{key, name, priceType, ...}], ...}]
    catalog:               [{key, name, category: [{key: ...}], ...}]

Any TMF reference may be written ``{key: K}`` instead of ``{id: ...}``. Offerings carry
their prices inline; an inline entry holding only ``key`` reuses a price defined earlier.
Imports are idempotent by key: a resource whose key is already in the tenant is compared
with the file and left alone, updated, or given a new version (see :class:`_Importer`).
An import runs in the caller's transaction through the normal service rules; the first
error raises a 422 whose ``field`` is the path inside the file
(``productOffering[2].productOfferingPrice[0].chargeModel.tiers[1].upTo``). Exports are
:mod:`openbss.catalog.exporter`.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import yaml

from openbss.catalog import queries, service
from openbss.catalog.documents import with_numbers
from openbss.catalog.errors import ImportKeyConflict, InvalidCatalogFile
from openbss.catalog.lifecycle import LIFECYCLE, is_editable
from openbss.catalog.models import RESOURCE_MODELS, ProductOffering
from openbss.catalog.rules import prepare
from openbss.catalog.schemas import SCHEMAS
from openbss.catalog.versions import version_key
from openbss.core.context import Context
from openbss.core.crud import validated
from openbss.core.errors import OpenBSSError, ValidationError
from openbss.core.jsonx import MAX_DEPTH, BoundsError, check_bounds, loads_bounded

FORMAT = "openbss-catalog/1"
SECTIONS = ("category", "productSpecification", "productOfferingPrice", "productOffering",
            "catalog")
#: Attributes the server sets, left out of files and of comparisons.
SERVER_FIELDS = ("lastUpdate",)


class _DecimalLoader(yaml.SafeLoader):
    """YAML loader reading non-integer numbers as exact ``Decimal``."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = str(loader.construct_scalar(node))
    try:
        return Decimal(text.replace("_", ""))
    except ArithmeticError:
        return loader.construct_yaml_float(node)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


def parse(text: str) -> Any:
    """Parse a catalog file (JSON or YAML) with exact decimals."""
    stripped = text.lstrip()
    try:
        if stripped.startswith(("{", "[")):
            return loads_bounded(text, root="file")
        data = yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 (a SafeLoader subclass)
        return check_bounds(data, root="file")  # depth, alias bombs, numbers
    except BoundsError as exc:
        raise ValidationError(f"{exc.field}: {exc.message}", field=exc.field) from None
    except RecursionError:
        raise InvalidCatalogFile(f"the file is nested more than {MAX_DEPTH} levels",
                                 field="file") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidCatalogFile(f"the file is not valid YAML or JSON: {exc}",
                                 field="file") from None


def _plain(value: Any) -> Any:
    """Decimals as strings (for YAML/JSON output)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def dump(data: dict[str, Any], fmt: str = "yaml") -> str:
    if fmt == "json":
        return json.dumps(_plain(data), indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(_plain(data), sort_keys=False, allow_unicode=True, width=100)


# -- import ----------------------------------------------------------------------------------


#: The longest key (the ``key`` column).
_MAX_KEY = 200
#: What an import did with one resource of the file.
OUTCOMES = ("created", "updated", "newVersion", "unchanged")


def _comparable(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """A stored or prepared body as it is compared: numbers exact, server fields dropped."""
    return {k: v for k, v in with_numbers(kind, copy.deepcopy(body)).items()
            if k not in SERVER_FIELDS}


class _Importer:
    """Puts each resource of a file into the tenant, matched by its ``key``.

    A key not in the tenant creates the resource. A key already there is compared with the
    file: the same document is left alone (``unchanged``); a different one is updated in
    place while the resource is ``In design`` (or is a catalog or category, which have no
    versions) or when only what an Active resource may change differs (``lifecycleStatus``,
    ``statusReason``, ``validFor.endDateTime``); otherwise the file's document becomes a
    new version (``newVersion``): the existing row keeps its id (and its subscribers) and
    is renamed ``<key>@<version>``, the new row takes the key. A file's ``version`` is only
    a change when it is higher than the stored one.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ids: dict[str, dict[str, str]] = {kind: {} for kind in RESOURCE_MODELS}
        self.counts: dict[str, dict[str, int]] = {
            kind: dict.fromkeys(OUTCOMES, 0) for kind in RESOURCE_MODELS}

    def ref(self, kind: str, value: Any, path: str) -> Any:
        """Turn ``{key: K}`` into ``{id: ...}``; other references pass unchanged."""
        if isinstance(value, dict) and "key" in value:
            key = str(value["key"])
            if key not in self.ids[kind]:
                raise ImportKeyConflict(
                    f"{path}.key: no {kind} with key {key!r} defined before",
                    field=f"{path}.key")
            out = {k: v for k, v in value.items() if k != "key"}
            out["id"] = self.ids[kind][key]
            return out
        return value

    def refs(self, doc: dict[str, Any], attr: str, kind: str, path: str) -> None:
        if isinstance(doc.get(attr), list):
            doc[attr] = [self.ref(kind, v, f"{path}.{attr}[{i}]")
                         for i, v in enumerate(doc[attr])]

    def create(self, kind: str, doc: Any, path: str) -> str:
        if not isinstance(doc, dict):
            raise ValidationError(f"{path} must be a mapping", field=path)
        doc = dict(doc)
        key = str(doc.pop("key", doc.get("name", "")))
        if key in self.ids[kind]:
            raise ImportKeyConflict(f"{path}.key: duplicate {kind} key {key!r}",
                                    field=f"{path}.key")
        if len(key) > _MAX_KEY:
            raise ValidationError(f"{path}.key: at most {_MAX_KEY} characters",
                                  field=f"{path}.key")
        try:
            row_id, outcome = self._put(kind, key, doc)
        except OpenBSSError as exc:
            raise _at(exc, path) from None
        self.ids[kind][key] = row_id
        self.counts[kind][outcome] += 1
        return row_id

    def _put(self, kind: str, key: str, doc: dict[str, Any]) -> tuple[str, str]:
        ctx = self.ctx
        rows = queries.with_key(ctx, kind, key)
        if not rows:
            return str(service.create_from_document(ctx, kind=kind, doc=doc, key=key).id), \
                "created"
        row = max(rows, key=lambda r: (version_key(r.version), r.last_update, r.id))
        wanted = dict(doc)
        wanted.setdefault("lifecycleStatus", row.lifecycle_status)
        version = wanted.get("version")
        higher = isinstance(version, str) and version_key(version) > version_key(row.version)
        if not higher:
            wanted["version"] = row.version
        body, _ = prepare(ctx, kind, validated(SCHEMAS[kind], wanted), current=row)
        before, after = _comparable(kind, row.body), _comparable(kind, body)
        if before == after:
            return str(row.id), "unchanged"
        frozen = kind in service.VERSIONED and not is_editable(row.lifecycle_status)
        movable = LIFECYCLE[kind].can(row.lifecycle_status, body["lifecycleStatus"])
        if not frozen or (movable and not service.frozen_changes(before, after)):
            patch: dict[str, Any] = dict.fromkeys(set(row.body) - set(wanted))
            patch.update(wanted)
            service.update_resource(ctx, kind=kind, resource_id=row.id, patch=patch)
            return str(row.id), "updated"
        # A frozen resource changes by a new version.
        same_name = queries.versions_named(ctx, kind, body["name"])
        highest = max([version_key(r.version) for r in rows]
                      + [version_key(v) for v in same_name])
        if not higher or version_key(str(version)) <= highest:
            wanted["version"] = f"{highest[0] + 1}.0"
        for old in rows:
            old.key = self._archived_key(kind, key, old.version)
        ctx.session.flush()
        new = service.create_from_document(ctx, kind=kind, doc=wanted, key=key)
        if isinstance(new, ProductOffering):
            new.previous_version_id = row.id
        return str(new.id), "newVersion"

    def _archived_key(self, kind: str, key: str, version: str) -> str:
        def named(suffix: str) -> str:
            return key[:_MAX_KEY - len(suffix)] + suffix

        candidate, n = named(f"@{version}"), 2
        while queries.key_taken(self.ctx, kind, candidate):
            candidate, n = named(f"@{version}-{n}"), n + 1
        return candidate

    def run(self, data: Any) -> dict[str, dict[str, int]]:
        if not isinstance(data, dict):
            raise InvalidCatalogFile("a catalog file is a mapping of sections", field="file")
        unknown = set(data) - {*SECTIONS, "format"}
        if unknown:
            name = sorted(unknown)[0]
            raise InvalidCatalogFile(
                f"unknown section {name!r}; sections: {', '.join(SECTIONS)}", field=name)
        if data.get("format", FORMAT) != FORMAT:
            raise InvalidCatalogFile(
                f"unsupported format {data['format']!r}; expected {FORMAT}", field="format")
        for section in SECTIONS:
            if not isinstance(data.get(section) or [], list):
                raise ValidationError(f"{section} must be a list", field=section)
        self._categories(data.get("category") or [])
        for i, spec in enumerate(data.get("productSpecification") or []):
            path = f"productSpecification[{i}]"
            if isinstance(spec, dict):
                spec = dict(spec)
                self.refs(spec, "bundledProductSpecification", "productSpecification", path)
            self.create("productSpecification", spec, path)
        for i, pop in enumerate(data.get("productOfferingPrice") or []):
            self._price(pop, f"productOfferingPrice[{i}]")
        self._offerings(data.get("productOffering") or [])
        for i, cat in enumerate(data.get("catalog") or []):
            path = f"catalog[{i}]"
            if isinstance(cat, dict):
                cat = dict(cat)
                self.refs(cat, "category", "category", path)
            self.create("catalog", cat, path)
        return self.counts

    def _categories(self, items: list[Any]) -> None:
        pending = list(enumerate(items))
        while pending:
            progress, later = False, []
            for i, item in pending:
                parent = item.get("parentId") if isinstance(item, dict) else None
                if parent is not None and str(parent) not in self.ids["category"]:
                    later.append((i, item))
                    continue
                doc = dict(item) if isinstance(item, dict) else item
                if parent is not None:
                    doc["parentId"] = self.ids["category"][str(parent)]
                self.create("category", doc, f"category[{i}]")
                progress = True
            if not progress:
                i, item = later[0]
                raise ImportKeyConflict(
                    f"category[{i}].parentId: no category with key {item['parentId']!r}",
                    field=f"category[{i}].parentId")
            pending = later

    def _offerings(self, items: list[Any]) -> None:
        # Bundles refer to their components: create each offering once its components exist.
        pending = list(enumerate(items))
        while pending:
            progress, later = False, []
            for i, item in pending:
                wanted = [b.get("key") for b in (item.get("bundledProductOffering") or [])
                          if isinstance(b, dict)] if isinstance(item, dict) else []
                if any(k is not None and str(k) not in self.ids["productOffering"]
                       for k in wanted):
                    later.append((i, item))
                    continue
                self._offering(i, item)
                progress = True
            if not progress:
                i, _ = later[0]
                self._offering(i, items[i])  # raises naming the unknown component
            pending = later

    def _price(self, pop: Any, path: str) -> str:
        if isinstance(pop, dict):
            pop = dict(pop)
            self.refs(pop, "popRelationship", "productOfferingPrice", path)
            self.refs(pop, "bundledPopRelationship", "productOfferingPrice", path)
        return self.create("productOfferingPrice", pop, path)

    def _offering(self, i: int, item: Any) -> None:
        path = f"productOffering[{i}]"
        if not isinstance(item, dict):
            raise ValidationError(f"{path} must be a mapping", field=path)
        doc = dict(item)
        if "productSpecification" in doc:
            doc["productSpecification"] = self.ref(
                "productSpecification", doc["productSpecification"],
                f"{path}.productSpecification")
        self.refs(doc, "category", "category", path)
        self.refs(doc, "bundledProductOffering", "productOffering", path)
        prices = []
        for j, pop in enumerate(doc.get("productOfferingPrice") or []):
            pop_path = f"{path}.productOfferingPrice[{j}]"
            if isinstance(pop, dict) and set(pop) <= {"key", "name"} and "key" in pop:
                prices.append(self.ref("productOfferingPrice", {"key": pop["key"]}, pop_path))
                continue
            prices.append({"id": self._price(pop, pop_path)})
        if prices:
            doc["productOfferingPrice"] = prices
        self.create("productOffering", doc, path)


def summary(counts: dict[str, dict[str, int]]) -> str:
    """``created: 2, updated: 1, new version: 0, unchanged: 25`` (then what changed, per
    resource type)."""
    labels = {"created": "created", "updated": "updated", "newVersion": "new version",
              "unchanged": "unchanged"}
    totals = ", ".join(f"{labels[o]}: {sum(c[o] for c in counts.values())}" for o in OUTCOMES)
    changed = [f"{kind} " + ", ".join(f"{labels[o]} {c[o]}" for o in OUTCOMES[:3] if c[o])
               for kind, c in counts.items() if any(c[o] for o in OUTCOMES[:3])]
    return totals + (f" ({'; '.join(changed)})" if changed else "")


def _at(exc: OpenBSSError, path: str) -> OpenBSSError:
    field = f"{path}.{exc.field}" if exc.field else path
    details = [{**d, "field": f"{path}.{d.get('field')}"} for d in exc.details]
    message = exc.message
    if exc.field and message.startswith(exc.field):
        message = message[len(exc.field):].lstrip(": ")
    sep = " " if message.startswith("(") else ": "
    return type(exc)(f"{field}{sep}{message}", field=field, details=details)


def import_catalog(ctx: Context, *, data: Any) -> dict[str, dict[str, int]]:
    """Put every resource of a parsed catalog file into the tenant, matched by key (see
    :class:`_Importer`): importing the same file twice changes nothing. Returns, per
    resource type, how many were ``created``, ``updated``, given a ``newVersion`` or left
    ``unchanged``.

    Runs in the caller's transaction: the caller rolls back on error (all-or-nothing).
    """
    return _Importer(ctx).run(data)
