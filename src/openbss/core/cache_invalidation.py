"""Drop a process-local cache entry whenever its row changes through the ORM.

Caches of rows (API keys in ``auth``, tenants in ``context``) register here: a flushed
UPDATE or DELETE of a row forgets its entry at once and again after the commit (so the
next read sees the committed state); a bulk UPDATE/DELETE statement on the table forgets
every entry. Changes made by other processes are the caches' own TTL to bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session


def forget_on_change(
    model: type[Any],
    *,
    key: Callable[[Any], str],
    forget: Callable[[str | None], None],
    ignore: Callable[[Any], bool] = lambda _row: False,
) -> None:
    """Call ``forget(key(row))`` when a ``model`` row is updated or deleted (unless
    ``ignore(row)``), again after its transaction commits, and ``forget(None)`` on bulk
    statements against the table."""
    pending = f"openbss_changed_{model.__tablename__}"

    def changed(_mapper: Any, _connection: Any, target: Any) -> None:
        if ignore(target):
            return
        session = Session.object_session(target)
        if session is not None:
            session.info.setdefault(pending, set()).add(key(target))
        forget(key(target))

    def bulk(state: Any) -> None:
        if (state.is_update or state.is_delete) and state.bind_mapper is not None \
                and state.bind_mapper.class_ is model:
            state.session.info.setdefault(pending, set()).add(None)
            forget(None)

    def committed(session: Session) -> None:
        for entry in session.info.pop(pending, None) or ():
            forget(entry)

    event.listen(model, "after_update", changed)
    event.listen(model, "after_delete", changed)
    event.listen(Session, "do_orm_execute", bulk)
    event.listen(Session, "after_commit", committed)
