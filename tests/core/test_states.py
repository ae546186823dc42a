"""core.states: one state machine helper, tested as a pure module (tables and laws)."""

from __future__ import annotations

from enum import StrEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openbss.core.errors import ValidationError
from openbss.core.states import InvalidTransitionError, StateMachine


class Door(StrEnum):
    DRAFT = "In design"
    OPEN = "open"
    SHUT = "shut"
    GONE = "gone"


DOOR = StateMachine("door", Door, field="status", transitions={
    Door.DRAFT: {Door.OPEN},
    Door.OPEN: {Door.SHUT, Door.GONE},
    Door.SHUT: {Door.OPEN, Door.GONE},
})


@pytest.mark.parametrize(("now", "then", "ok"), [
    ("In design", "open", True),
    ("open", "shut", True),
    ("shut", "open", True),
    ("open", "gone", True),
    ("In design", "shut", False),
    ("gone", "open", False),
    ("shut", "In design", False),
    ("gone", "gone", True),  # staying is never a transition
])
def test_declared_transitions_are_the_only_ones(now: str, then: str, ok: bool) -> None:
    assert DOOR.can(now, then) is ok
    if ok:
        assert DOOR.check(now, then) == Door(then)
    else:
        with pytest.raises(InvalidTransitionError) as caught:
            DOOR.check(now, then, resource_id="d1")
        err = caught.value
        assert err.status == 409 and err.code == "invalid_transition"
        assert err.field == "status"
        assert f"door d1 is {now!r} and cannot become {then!r}" in err.message
        assert err.details[0]["from"] == now and err.details[0]["to"] == then


def test_a_final_state_says_so_and_allowed_lists_next_states() -> None:
    with pytest.raises(InvalidTransitionError, match="'gone' is final"):
        DOOR.check(Door.GONE, Door.OPEN)
    with pytest.raises(InvalidTransitionError, match="allowed next: gone, open"):
        DOOR.check(Door.SHUT, Door.DRAFT)
    assert DOOR.allowed("open") == {Door.SHUT, Door.GONE}
    assert DOOR.is_final("gone") and not DOOR.is_final("open")


def test_an_unknown_status_is_a_422_naming_the_field_and_the_statuses() -> None:
    with pytest.raises(ValidationError) as caught:
        DOOR.check("open", "ajar")
    assert caught.value.status == 422 and caught.value.field == "status"
    assert "In design, open, shut, gone" in caught.value.message


def test_a_machine_refuses_transitions_to_states_it_does_not_have() -> None:
    class Other(StrEnum):
        X = "x"

    with pytest.raises(TypeError):
        StateMachine("bad", Door, field="s", transitions={Door.OPEN: {Other.X}})  # type: ignore[dict-item]


def test_diagram_names_every_state_and_edge() -> None:
    text = DOOR.diagram()
    assert text.startswith("stateDiagram-v2")
    assert 'state "In design" as DRAFT' in text
    assert "DRAFT --> OPEN" in text and "SHUT --> GONE" in text
    assert text.count("-->") == 5


@given(st.sampled_from(list(Door)), st.sampled_from(list(Door)))
def test_check_agrees_with_can(now: Door, then: Door) -> None:
    if DOOR.can(now, then):
        assert DOOR.check(now, then) is then
    else:
        with pytest.raises(InvalidTransitionError):
            DOOR.check(now, then)
