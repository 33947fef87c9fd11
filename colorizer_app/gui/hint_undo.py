"""Undo commands for hint edits (QUndoStack): add, remove, change (move, colour, size), clear.

Each command edits the shared :class:`~colorizer_app.engine.hint_edit.HintList` and then calls
``after`` (the editor's "hints were edited": re-run, save, repaint). Indices stay valid because
the stack undoes and redoes in order.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand

from colorizer_app.engine.hint_edit import HintList
from colorizer_app.engine.hints import Hint

RESIZE_ID = 1  # consecutive wheel steps on one hint merge into one undo step


class AddHint(QUndoCommand):
    def __init__(self, hints: HintList, hint: Hint, after: Callable[[], None]) -> None:
        super().__init__("Add hint")
        self._hints, self._hint, self._after = hints, hint, after
        self._index = len(hints)

    def redo(self) -> None:
        self._hints.insert(self._index, self._hint)
        self._after()

    def undo(self) -> None:
        self._hints.remove(self._index)
        self._after()


class RemoveHint(QUndoCommand):
    def __init__(self, hints: HintList, index: int, after: Callable[[], None]) -> None:
        super().__init__("Remove hint")
        self._hints, self._index, self._after = hints, index, after
        self._hint = hints[index]

    def redo(self) -> None:
        self._hints.remove(self._index)
        self._after()

    def undo(self) -> None:
        self._hints.insert(self._index, self._hint)
        self._after()


class ChangeHint(QUndoCommand):
    """One hint replaced by another (moved, recoloured or resized)."""

    def __init__(
        self,
        hints: HintList,
        index: int,
        old: Hint,
        new: Hint,
        after: Callable[[], None],
        *,
        text: str,
        merge_id: int = -1,
    ) -> None:
        super().__init__(text)
        self._hints, self.index, self._old, self.new, self._after = hints, index, old, new, after
        self._id = merge_id

    def id(self) -> int:  # noqa: A003 - Qt's name
        return self._id

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt override
        if not isinstance(other, ChangeHint) or other.index != self.index:
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        self._hints.replace(self.index, self.new)
        self._after()

    def undo(self) -> None:
        self._hints.replace(self.index, self._old)
        self._after()


class ClearHints(QUndoCommand):
    def __init__(self, hints: HintList, after: Callable[[], None]) -> None:
        super().__init__("Clear hints")
        self._hints, self._after = hints, after
        self._old = hints.snapshot()

    def redo(self) -> None:
        self._hints.reset([])
        self._after()

    def undo(self) -> None:
        self._hints.reset(self._old)
        self._after()
