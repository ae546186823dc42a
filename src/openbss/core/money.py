"""Exact money: a :class:`~decimal.Decimal` amount with an ISO 4217 currency.

Rules (see docs/architecture.md, *The shared kernel*):

* A float anywhere in a money path is a bug: :class:`Money` refuses floats as amounts,
  multipliers, divisors and allocation ratios (``TypeError``).
* No implicit rounding. Sums, differences and products are computed exactly (a local decimal
  context traps :class:`decimal.Inexact`, so a result that would not fit in
  :data:`PRECISION` significant digits raises instead of silently losing digits). Division is
  the only inexact operation; its quotient carries :data:`PRECISION` significant digits.
  Results never depend on the caller's global decimal context.
* Rounding to the currency's minor unit happens only when asked for, with an explicit
  rounding mode: :func:`round_amount` / :meth:`Money.rounded`. :data:`DEFAULT_ROUNDING`
  (``ROUND_HALF_UP``) is the mode used at the documented rounding points: invoice lines and
  tax lines.
* Splitting never loses or creates a minor unit: :meth:`Money.allocate`, :meth:`Money.split`.
* Currency codes and their exponents (minor-unit digits) come from CLDR via Babel.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import (
    ROUND_05UP,
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
)
from fractions import Fraction
from functools import cache
from typing import TypeGuard, overload

from babel.numbers import format_currency, get_currency_precision, list_currencies

from openbss.core.errors import CurrencyMismatchError, ValidationError

__all__ = [
    "DEFAULT_ROUNDING",
    "PRECISION",
    "ROUNDING_MODES",
    "Money",
    "currency_exponent",
    "is_currency",
    "round_amount",
    "validate_currency",
]

#: Rounding mode used at the documented rounding points (invoice line, tax line).
DEFAULT_ROUNDING: str = ROUND_HALF_UP

#: The rounding modes of :mod:`decimal` accepted by :func:`round_amount`.
ROUNDING_MODES: frozenset[str] = frozenset(
    {
        ROUND_HALF_UP,
        ROUND_HALF_EVEN,
        ROUND_HALF_DOWN,
        ROUND_UP,
        ROUND_DOWN,
        ROUND_CEILING,
        ROUND_FLOOR,
        ROUND_05UP,
    }
)

#: Significant digits of every money computation (division quotients carry this many).
PRECISION: int = 60

_TRAPS: list[type[decimal.DecimalException]] = [
    decimal.InvalidOperation,
    decimal.DivisionByZero,
    decimal.Overflow,
]
#: Context for operations that must be exact: raises ``decimal.Inexact`` instead of rounding.
_EXACT = decimal.Context(
    prec=PRECISION,
    rounding=ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[*_TRAPS, decimal.Inexact],
)
#: Context for division and explicit rounding (inherently inexact).
_INEXACT = decimal.Context(
    prec=PRECISION,
    rounding=ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=list(_TRAPS),
)


@cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def is_currency(code: object) -> TypeGuard[str]:
    """True if ``code`` is an upper-case ISO 4217 code known to CLDR (Babel)."""
    return isinstance(code, str) and code.isupper() and code in _currencies()


def validate_currency(code: object, *, field: str = "currency") -> str:
    """Return ``code`` if it is a known upper-case ISO 4217 code, else raise ValidationError."""
    if not is_currency(code):
        raise ValidationError(
            f"unknown currency code {code!r} (expected an upper-case ISO 4217 code)",
            field=field,
        )
    return code


@cache
def _exponent(currency: str) -> int:
    return int(get_currency_precision(currency))


def currency_exponent(currency: str) -> int:
    """Number of minor-unit digits of ``currency`` per CLDR (JPY 0, EUR 2, BHD 3, CLF 4)."""
    return _exponent(validate_currency(currency))


@cache
def _quantum(exponent: int) -> Decimal:
    return Decimal((0, (1,), -exponent))


def _check_rounding(rounding: str) -> str:
    if rounding not in ROUNDING_MODES:
        raise ValidationError(f"unknown rounding mode {rounding!r}", field="rounding")
    return rounding


def round_amount(amount: Decimal, currency: str, rounding: str = DEFAULT_ROUNDING) -> Decimal:
    """Round ``amount`` to the minor unit of ``currency`` with the given decimal rounding mode."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"round_amount expects a Decimal, not {type(amount).__name__}")
    if not amount.is_finite():
        raise ValidationError(f"amount must be finite, got {amount}", field="amount")
    quantum = _quantum(currency_exponent(currency))
    return amount.quantize(quantum, rounding=_check_rounding(rounding), context=_INEXACT)


def _to_decimal(value: object, *, field: str, what: str) -> Decimal:
    """Convert an int, Decimal or decimal string to a finite Decimal; floats are refused."""
    if isinstance(value, float):
        raise TypeError(f"{what} must be a Decimal, int or decimal string, never a float")
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a Decimal, int or decimal string, not a bool")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            with decimal.localcontext(_EXACT):
                result = Decimal(value.strip())
        except decimal.InvalidOperation:
            raise ValidationError(
                f"{what} is not a decimal number: {value!r}", field=field
            ) from None
    else:
        raise TypeError(
            f"{what} must be a Decimal, int or decimal string, not {type(value).__name__}"
        )
    if not result.is_finite():
        raise ValidationError(f"{what} must be finite, got {result}", field=field)
    return result


def _factor(value: object, what: str) -> Decimal:
    """A multiplier / divisor / ratio: Decimal or int only (no strings, no floats)."""
    if isinstance(value, float):
        raise TypeError(f"{what} must be a Decimal or int, never a float")
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{what} must be a Decimal or int, not {type(value).__name__}")
    return _to_decimal(value, field=what, what=what)


@dataclass(frozen=True, slots=True, init=False)
class Money:
    """An exact amount of one currency. Immutable and hashable.

    ``Money("12.50", "EUR")``, ``Money(Decimal("0.001"), "BHD")``, ``Money(5, "JPY")``.
    Equality compares the numeric value (``Money("1", "EUR") == Money("1.00", "EUR")``);
    ordering comparisons between different currencies raise :class:`CurrencyMismatchError`.
    """

    amount: Decimal
    currency: str

    def __init__(self, amount: Decimal | int | str, currency: str) -> None:
        # the common case (a finite Decimal, a known code) checked without the general path
        if amount.__class__ is not Decimal or not amount.is_finite():
            amount = _to_decimal(amount, field="amount", what="amount")
        if currency.__class__ is not str or currency not in _currencies():
            validate_currency(currency)
        object.__setattr__(self, "amount", amount)
        object.__setattr__(self, "currency", currency)

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def total(cls, items: Iterable[Money], currency: str) -> Money:
        """Exact sum of ``items``, all in ``currency``; ``Money.zero(currency)`` if empty."""
        result = cls.zero(currency)
        for item in items:
            result = result + item
        return result

    @classmethod
    def from_minor_units(cls, units: int, currency: str) -> Money:
        """``Money.from_minor_units(1234, "EUR") == Money("12.34", "EUR")``."""
        if isinstance(units, bool) or not isinstance(units, int):
            raise TypeError(f"minor units must be an int, not {type(units).__name__}")
        exponent = currency_exponent(currency)
        return cls(Decimal(units).scaleb(-exponent, context=_EXACT), currency)

    # -- queries --------------------------------------------------------------------------

    @property
    def exponent(self) -> int:
        """Minor-unit digits of this money's currency."""
        return _exponent(self.currency)

    def is_zero(self) -> bool:
        return self.amount.is_zero()

    def is_negative(self) -> bool:
        return self.amount < 0

    def is_positive(self) -> bool:
        return self.amount > 0

    def is_rounded(self) -> bool:
        """True if the amount is an exact multiple of the currency's minor unit."""
        return self.amount == round_amount(self.amount, self.currency, ROUND_DOWN)

    def rounded(self, rounding: str = DEFAULT_ROUNDING) -> Money:
        """This amount rounded to the currency's minor unit with the given rounding mode."""
        return Money(round_amount(self.amount, self.currency, rounding), self.currency)

    def to_minor_units(self) -> int:
        """The amount as an integer count of minor units (it must already be on the unit)."""
        if not self.is_rounded():
            raise ValidationError(
                f"{self} is not a whole number of minor units of {self.currency}; round it first",
                field="amount",
            )
        return int(self.amount.scaleb(self.exponent, context=_EXACT))

    # -- arithmetic -----------------------------------------------------------------------

    def _same_currency(self, other: Money, op: str) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot {op} {self.currency} and {other.currency}", field="currency"
            )

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "add")
        return Money(_EXACT.add(self.amount, other.amount), self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "subtract")
        return Money(_EXACT.subtract(self.amount, other.amount), self.currency)

    def __neg__(self) -> Money:
        return Money(_EXACT.minus(self.amount), self.currency)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return Money(_EXACT.abs(self.amount), self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, Money):
            return NotImplemented
        return Money(_EXACT.multiply(self.amount, _factor(factor, "multiplier")), self.currency)

    def __rmul__(self, factor: Decimal | int) -> Money:
        return self.__mul__(factor)

    @overload
    def __truediv__(self, other: Money) -> Decimal: ...

    @overload
    def __truediv__(self, other: Decimal | int) -> Money: ...

    def __truediv__(self, other: Money | Decimal | int) -> Money | Decimal:
        """``Money / number -> Money`` (quotient to :data:`PRECISION` digits, unrounded);
        ``Money / Money -> Decimal`` (same currency: the ratio)."""
        if isinstance(other, Money):
            self._same_currency(other, "divide")
            divisor = other.amount
        else:
            divisor = _factor(other, "divisor")
        if divisor.is_zero():
            raise ZeroDivisionError("division of money by zero")
        quotient = _INEXACT.divide(self.amount, divisor)
        if isinstance(other, Money):
            return quotient
        return Money(quotient, self.currency)

    # -- comparisons (same currency only) -------------------------------------------------

    def _cmp_amount(self, other: Money) -> Decimal:
        self._same_currency(other, "compare")
        return other.amount

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.amount < self._cmp_amount(other)

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.amount <= self._cmp_amount(other)

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.amount > self._cmp_amount(other)

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.amount >= self._cmp_amount(other)

    # -- splitting ------------------------------------------------------------------------

    def allocate(self, ratios: Sequence[Decimal | int]) -> list[Money]:
        """Split this amount by ``ratios`` without losing or creating a minor unit.

        The amount must be a whole number of minor units (round it first). Each share is
        first the exact share ``amount * ratio / sum(ratios)`` truncated towards zero to the
        minor unit; the minor units left over are then handed out one at a time to the
        shares with the largest truncated remainder (ties: the earlier index first). Negative
        amounts are split symmetrically (the shares of ``-x`` are the negated shares of
        ``x``). Every share differs from its exact share by less than one minor unit, and
        the shares sum exactly to the amount.

        ``Money("0.05", "EUR").allocate([3, 7]) == [0.02 EUR, 0.03 EUR]``;
        ``Money("0.10", "EUR").allocate([1, 2]) == [0.03 EUR, 0.07 EUR]``.
        """
        if isinstance(ratios, (str, bytes)) or not isinstance(ratios, Sequence):
            raise TypeError("ratios must be a sequence of Decimal or int")
        if not ratios:
            raise ValidationError("at least one ratio is required", field="ratios")
        weights: list[Fraction] = []
        for ratio in ratios:
            value = _factor(ratio, "ratios")
            if value < 0:
                raise ValidationError(f"ratios must be non-negative, got {value}", field="ratios")
            weights.append(Fraction(value))
        weight_sum = sum(weights, Fraction(0))
        if weight_sum <= 0:
            raise ValidationError("the ratios must have a positive sum", field="ratios")
        if not self.is_rounded():
            raise ValidationError(
                f"cannot allocate {self}: not a whole number of minor units; round it first",
                field="amount",
            )
        units = self.to_minor_units()
        sign = -1 if units < 0 else 1
        magnitude = abs(units)
        exact = [magnitude * weight / weight_sum for weight in weights]
        shares = [int(share) for share in exact]  # floor: all exact shares are >= 0
        leftover = magnitude - sum(shares)
        by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - shares[i]), i))
        for index in by_remainder[:leftover]:
            shares[index] += 1
        return [Money.from_minor_units(sign * share, self.currency) for share in shares]

    def split(self, parts: int) -> list[Money]:
        """Split into ``parts`` near-equal shares: ``100 EUR -> 33.34, 33.33, 33.33``."""
        if isinstance(parts, bool) or not isinstance(parts, int):
            raise TypeError(f"parts must be an int, not {type(parts).__name__}")
        if parts < 1:
            raise ValidationError(f"parts must be at least 1, got {parts}", field="parts")
        return self.allocate([1] * parts)

    # -- display --------------------------------------------------------------------------

    def format(self, locale: str = "en") -> str:
        """Localized display string (Babel/CLDR), e.g. ``€1,234.50`` or ``1.234,50 €``.

        For display only: Babel rounds to the currency's digits for presentation.
        """
        return format_currency(self.amount, self.currency, locale=locale)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
