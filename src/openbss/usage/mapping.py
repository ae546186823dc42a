"""CDR file mappings: how the columns of a usage file become the canonical keys of a raw
record (``usage.normalize``), and the readers that stream a file in chunks.

A mapping is a small YAML document (the presets ``asterisk``, ``freeswitch`` and
``generic`` ship in ``usage/presets/``; docs/usage-and-rating.md describes the format)::

    format: csv                 # csv | ndjson
    header: false               # does the first line name the columns?
    delimiter: ","
    fields: [accountcode, src, dst, ...]   # the column names of a header-less file
    columns:                    # canonical key: a column (name or 1-based position),
      recordId: uniqueid        # or a list of columns (the first non-empty one wins)
      usageDate: [answer, start]
      duration: billsec
      accountNumber: accountcode
    constants: {usageType: voice}   # keys with one value for every record
    usageType: voice            # shorthand for constants.usageType
    timestampFormat: "%Y-%m-%d %H:%M:%S"   # strptime; default: ISO 8601 / epoch seconds
    timeZone: Europe/Berlin     # of offset-less timestamps; default: the source's
    units: {duration: s, volume: B, quantity: ...}   # the unit of bare numbers

Columns no mapping names are kept as extra keys under their own names (a column named
like a canonical key it is not mapped to — Asterisk's total ``duration`` beside the
rated ``billsec`` — is kept as ``column.<name>``). A mapping without ``columns`` is the
identity: the file's header names the canonical keys (the ``generic`` preset).

Errors are :class:`MappingError`, naming the key at fault (``columns.duration``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
import yaml

from openbss.usage.normalize import IDENTIFIER_KEYS, KNOWN_KEYS, squash

PRESETS = ("asterisk", "freeswitch", "generic")
FORMATS = ("csv", "ndjson")
_TOP_KEYS = {"format", "header", "delimiter", "fields", "columns", "constants", "usageType",
             "timestampFormat", "timeZone", "units", "description"}
_UNIT_KEYS = {"duration", "volume", "quantity"}
EXTRA_PREFIX = "column."


class MappingError(ValueError):
    """A mapping (or a file read with it) that cannot be used; ``key`` names what."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


def canonical_key(name: str) -> str | None:
    """The canonical raw key ``name`` stands for (``recordId``, ``msisdn`` …), or None."""
    if name in KNOWN_KEYS:
        return name
    return IDENTIFIER_KEYS.get(squash(name))


@dataclass(frozen=True)
class FileMapping:
    """A validated mapping (see the module docstring)."""

    name: str
    format: str = "csv"
    header: bool = True
    delimiter: str = ","
    fields: tuple[str, ...] | None = None
    columns: dict[str, tuple[str | int, ...]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    timestamp_format: str | None = None
    time_zone: str | None = None
    units: dict[str, str] = field(default_factory=dict)

    @property
    def identity(self) -> bool:
        return not self.columns



def _str(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise MappingError(key, "must be a non-empty string")
    return value


def parse_mapping(data: Any, *, name: str = "mapping") -> FileMapping:
    """Validate a mapping document (the parsed YAML)."""
    if not isinstance(data, Mapping):
        raise MappingError("", "a mapping is a YAML object (columns, constants …)")
    unknown = sorted(set(map(str, data)) - _TOP_KEYS)
    if unknown:
        raise MappingError(unknown[0], "unknown key (allowed: "
                           f"{', '.join(sorted(_TOP_KEYS))})")
    fmt = data.get("format", "csv")
    if fmt not in FORMATS:
        raise MappingError("format", f"{fmt!r} is not csv or ndjson")
    header = data.get("header", True)
    if not isinstance(header, bool):
        raise MappingError("header", "must be true or false")
    delimiter = data.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise MappingError("delimiter", "must be one character")
    fields: tuple[str, ...] | None = None
    if data.get("fields") is not None:
        raw_fields = data["fields"]
        if not isinstance(raw_fields, list) or not raw_fields:
            raise MappingError("fields", "must be a list of column names")
        fields = tuple(_str(f, f"fields[{i}]") for i, f in enumerate(raw_fields))
        if len(set(fields)) != len(fields):
            raise MappingError("fields", "column names must be unique")
    columns = _columns(data.get("columns") or {}, fields)
    constants = _constants(data)
    clash = sorted(set(columns) & set(constants))
    if clash:
        raise MappingError(f"constants.{clash[0]}", "is also mapped in columns")
    timestamp_format = data.get("timestampFormat")
    if timestamp_format is not None:
        _str(timestamp_format, "timestampFormat")
        if "%" not in timestamp_format:
            raise MappingError("timestampFormat", "a strptime format such as "
                               "'%Y-%m-%d %H:%M:%S'")
    time_zone = data.get("timeZone")
    if time_zone is not None:
        try:
            ZoneInfo(_str(time_zone, "timeZone"))
        except (ZoneInfoNotFoundError, ValueError):
            raise MappingError("timeZone", f"{time_zone!r} is not an IANA time zone "
                               "(e.g. Europe/Berlin)") from None
    units = data.get("units") or {}
    if not isinstance(units, Mapping):
        raise MappingError("units", "must map duration/volume/quantity to a unit")
    for key, unit in units.items():
        if key not in _UNIT_KEYS:
            raise MappingError(f"units.{key}", "only duration, volume and quantity take a "
                               "unit")
        _str(unit, f"units.{key}")
    if fmt == "csv" and not header and fields is None and columns and any(
            isinstance(c, str) for cols in columns.values() for c in cols):
        raise MappingError("fields", "a header-less file names its columns in fields "
                           "(or columns refer to positions)")
    return FileMapping(name=name, format=fmt, header=header, delimiter=delimiter,
                       fields=fields, columns=columns, constants=constants,
                       timestamp_format=timestamp_format, time_zone=time_zone,
                       units={str(k): str(v) for k, v in units.items()})


def _columns(raw: Any, fields: tuple[str, ...] | None) -> dict[str, tuple[str | int, ...]]:
    if not isinstance(raw, Mapping):
        raise MappingError("columns", "must map canonical keys to columns")
    columns: dict[str, tuple[str | int, ...]] = {}
    for key, spec in raw.items():
        where = f"columns.{key}"
        canonical = canonical_key(str(key))
        if canonical is None or canonical == "source":
            raise MappingError(where, "not a canonical key (recordId, usageDate, usageType,"
                               " metric, quantity, unit, duration, volume, count, "
                               "calledNumber, callingNumber or an identifier such as "
                               "msisdn, imsi, username, apiKey)")
        specs = spec if isinstance(spec, list) else [spec]
        if not specs:
            raise MappingError(where, "names no column")
        chosen: list[str | int] = []
        for item in specs:
            if isinstance(item, bool) or not isinstance(item, (str, int)) or item == "":
                raise MappingError(where, "a column is a name or a 1-based position")
            if isinstance(item, int) and item < 1:
                raise MappingError(where, "positions start at 1")
            if isinstance(item, str) and fields is not None and item not in fields:
                raise MappingError(where, f"{item!r} is not one of fields")
            if isinstance(item, int) and fields is not None and item > len(fields):
                raise MappingError(where, f"position {item} is past the {len(fields)} "
                                   "fields")
            chosen.append(item)
        if canonical in columns:
            raise MappingError(where, f"{canonical} is mapped twice")
        columns[canonical] = tuple(chosen)
    return columns


def _constants(data: Mapping[str, Any]) -> dict[str, str]:
    raw = data.get("constants") or {}
    if not isinstance(raw, Mapping):
        raise MappingError("constants", "must map canonical keys to values")
    constants: dict[str, str] = {}
    for key, value in raw.items():
        canonical = canonical_key(str(key))
        if canonical is None or canonical == "source":
            raise MappingError(f"constants.{key}", "not a canonical key")
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal, float)):
            raise MappingError(f"constants.{key}", "must be a string or a number")
        constants[canonical] = str(value)
    if data.get("usageType") is not None:
        if "usageType" in constants:
            raise MappingError("usageType", "given twice (usageType and "
                               "constants.usageType)")
        constants["usageType"] = _str(data["usageType"], "usageType")
    return constants


def load_mapping(spec: str) -> FileMapping:
    """A preset by name (``asterisk``, ``freeswitch``, ``generic``) or a MAPPING.yaml
    file."""
    if spec in PRESETS:
        text = resources.files("openbss.usage").joinpath(
            "presets", f"{spec}.yaml").read_text(encoding="utf-8")
        name = spec
    else:
        path = Path(spec)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MappingError("", f"cannot read mapping {spec}: {exc.strerror} (give "
                               f"{', '.join(PRESETS)} or a MAPPING.yaml file)") from None
        name = path.stem
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError("", f"mapping {spec} is not valid YAML: {exc}") from None
    return parse_mapping(data, name=name)


# -- applying a mapping to a chunk of a CSV file -----------------------------------------

def _column_name(item: str | int, names: list[str], fields: tuple[str, ...] | None) -> str:
    if isinstance(item, int):
        if item > len(names):
            raise MappingError("columns", f"position {item}: the file has only "
                               f"{len(names)} columns")
        return names[item - 1]
    if item not in names:
        raise MappingError("columns", f"the file has no column {item!r} (it has "
                           f"{', '.join(names[:12])}{' …' if len(names) > 12 else ''})")
    return item


def _blank_to_null(name: str) -> pl.Expr:
    col = pl.col(name).str.strip_chars(" \t")
    return pl.when(col == "").then(None).otherwise(pl.col(name))


def plan(mapping: FileMapping, names: list[str]) -> list[pl.Expr]:
    """The select that turns a chunk with the file's columns (all strings) into canonical
    keys (String columns) plus the extra columns."""
    if mapping.identity:
        exprs = [pl.col(n) for n in names if n != "source"]
        exprs += [pl.lit(v, dtype=pl.String).alias(k) for k, v in mapping.constants.items()
                  if k not in names]
        return exprs
    exprs = []
    used: set[str] = set()
    for key, items in mapping.columns.items():
        cols = [_column_name(i, names, mapping.fields) for i in items]
        used.update(cols)
        expr = (_blank_to_null(cols[0]) if len(cols) == 1
                else pl.coalesce([_blank_to_null(c) for c in cols]))
        exprs.append(expr.alias(key))
    for key, value in mapping.constants.items():
        exprs.append(pl.lit(value, dtype=pl.String).alias(key))
    taken = set(mapping.columns) | set(mapping.constants)
    for name in names:
        if name in used:
            continue
        alias = name
        if canonical_key(name) is not None or name in taken or name == "source":
            alias = EXTRA_PREFIX + name
        exprs.append(pl.col(name).alias(alias))
    return exprs


def csv_names(mapping: FileMapping, width: int) -> list[str]:
    """Column names of a header-less file of ``width`` columns."""
    fields = list(mapping.fields or ())
    return [*fields[:width], *(f"column{i + 1}" for i in range(len(fields), width))]


def _blank(path: Path, probe: int = 65536) -> bool:
    """The file holds nothing but white space (checked for files up to ``probe`` bytes)."""
    try:
        if path.stat().st_size > probe:
            return False
        return not path.read_bytes().strip()
    except OSError:
        return False  # the reader says why it cannot read it


def read_csv(path: Path, mapping: FileMapping, *, chunk_size: int = 100_000,
             ) -> Iterator[pl.DataFrame]:
    """The file in chunks of canonical String columns (constant memory: Polars' streaming
    CSV reader). Raises :class:`MappingError` for a file the mapping does not fit."""
    if _blank(path):
        return  # an empty file (a CDR writer's quiet hour): nothing read, like NDJSON
    try:
        lazy = pl.scan_csv(path, has_header=mapping.header, separator=mapping.delimiter,
                           infer_schema=False, truncate_ragged_lines=True,
                           quote_char='"')
        names = lazy.collect_schema().names()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise MappingError("", f"cannot read {path} as CSV: {exc}") from None
    if not mapping.header:
        file_names = csv_names(mapping, len(names))
        lazy = lazy.rename(dict(zip(names, file_names, strict=True)))
        names = file_names
    select = plan(mapping, names)
    try:
        for batch in lazy.select(select).collect_batches(chunk_size=chunk_size):
            if batch.height:
                yield batch
    except pl.exceptions.PolarsError as exc:
        raise MappingError("", f"cannot read {path} as CSV: {exc}") from None


def read_ndjson(path: Path, *, chunk_size: int = 100_000,
                ) -> Iterator[list[dict[str, Any] | str]]:
    """The file in chunks of parsed lines: a JSON object per line (a TMF635 usage or a
    raw record; numbers stay exact Decimals), or the line's text when it is not one (the
    pipeline rejects it ``malformed``). Blank lines are skipped."""
    from openbss.usage.records import flatten

    chunk: list[dict[str, Any] | str] = []
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                text = line.strip()
                if not text:
                    continue
                chunk.append(parse_line(text, flatten))
                if len(chunk) >= chunk_size:
                    yield chunk
                    chunk = []
    except OSError as exc:
        raise MappingError("", f"cannot read {path}: {exc.strerror}") from None
    if chunk:
        yield chunk


def parse_line(text: str, flatten: Any) -> dict[str, Any] | str:
    try:
        doc = json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError):
        return text
    if not isinstance(doc, dict):
        return text
    if "usageCharacteristic" in doc or doc.get("@type") == "Usage":
        flat: dict[str, Any] = flatten(doc)
        return flat
    return doc
