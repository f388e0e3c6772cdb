"""The check registry: loaded from entry points, validated, selected by id, name, tag or glob."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from importlib.resources.abc import Traversable

from globalnet_doctor.errors import UsageError
from globalnet_doctor.fixspec import Fix
from globalnet_doctor.spec import Check, CheckPack

CHECK_GROUP = "globalnet_doctor.checks"
_ID_PATTERN = re.compile(r"^[A-Z]+[0-9]{3}$")


class RegistryError(Exception):
    """A plugin registered something invalid (duplicate id or name, bad metadata)."""


@dataclass(frozen=True, slots=True)
class Registry:
    checks: tuple[type[Check], ...]
    """Sorted by id."""
    docs: dict[str, Traversable]

    @classmethod
    def from_packs(cls, packs: Iterable[CheckPack]) -> Registry:
        by_id: dict[str, type[Check]] = {}
        by_name: dict[str, type[Check]] = {}
        docs: dict[str, Traversable] = {}
        for pack in packs:
            for check in pack.checks:
                _validate(check)
                if check.id in by_id:
                    raise RegistryError(f"duplicate check id {check.id}")
                if check.name in by_name:
                    raise RegistryError(f"duplicate check name {check.name}")
                by_id[check.id] = by_name[check.name] = check
                if pack.docs is not None:
                    docs[check.id] = pack.docs / f"{check.id}.md"
        return cls(tuple(sorted(by_id.values(), key=lambda c: c.id)), docs)

    def find(self, key: str) -> type[Check] | None:
        wanted = key.strip()
        return next(
            (c for c in self.checks if c.id.upper() == wanted.upper() or c.name == wanted), None
        )

    def select(
        self, select: Sequence[str] = (), ignore: Sequence[str] = ()
    ) -> tuple[type[Check], ...]:
        """Checks matching any ``select`` pattern (all when empty) and no ``ignore`` pattern.

        A pattern is an id, a name, a tag, or a glob over ids and names; one that matches
        nothing is a usage error, and so is a selection left empty by ``ignore``: a run of no
        check would pass in CI for nothing.
        """
        chosen = self._matching(select) if select else set(self.checks)
        chosen -= self._matching(ignore)
        if not chosen:
            asked = " ".join(
                [*(f"--select {p}" for p in select), *(f"--ignore {p}" for p in ignore)]
            )
            raise UsageError(f"the selection leaves no check to run ({asked})")
        return tuple(c for c in self.checks if c in chosen)

    def _matching(self, patterns: Sequence[str]) -> set[type[Check]]:
        matched: set[type[Check]] = set()
        for pattern in patterns:
            hits = {c for c in self.checks if _matches(c, pattern)}
            if not hits:
                raise UsageError(f"no check matches {pattern!r} (see `gdoctor list`)")
            matched |= hits
        return matched

    def doc_page(self, check: type[Check]) -> str | None:
        page = self.docs.get(check.id)
        if page is None or not page.is_file():
            return None
        return page.read_text(encoding="utf-8")


def _matches(check: type[Check], pattern: str) -> bool:
    lowered = pattern.lower()
    if lowered in (check.id.lower(), check.name) or pattern in check.tags:
        return True
    return fnmatch.fnmatchcase(check.id.lower(), lowered) or fnmatch.fnmatchcase(
        check.name, lowered
    )


def _validate(check: type[Check]) -> None:
    for attribute in ("id", "name", "title", "severity"):
        if not hasattr(check, attribute):
            raise RegistryError(f"{check.__qualname__} lacks {attribute}")
    if not _ID_PATTERN.match(check.id):
        raise RegistryError(f"{check.__qualname__}: id {check.id!r} is not like GD123")


def load_registry() -> Registry:
    """Every installed check pack, the built-in one included, through entry points."""
    packs: list[CheckPack] = []
    for entry in sorted(entry_points(group=CHECK_GROUP), key=lambda e: e.name):
        try:
            pack = entry.load()
        except Exception as exc:  # a broken plugin is named, never a traceback
            message = f"cannot load check plugin {entry.name} ({entry.value}): {exc}"
            raise RegistryError(message) from None
        if not isinstance(pack, CheckPack):
            raise RegistryError(f"entry point {entry.name} ({entry.value}) is not a CheckPack")
        packs.append(pack)
    return Registry.from_packs(packs)


FIX_GROUP = "globalnet_doctor.fixes"


def load_fixes(registry: Registry) -> dict[str, type[Fix]]:
    """Every installed fix, by the id of the check it repairs (which must declare it)."""
    fixes: dict[str, type[Fix]] = {}
    for entry in sorted(entry_points(group=FIX_GROUP), key=lambda e: e.name):
        try:
            pack = entry.load()
        except Exception as exc:  # a broken plugin is named, never a traceback
            message = f"cannot load fix plugin {entry.name} ({entry.value}): {exc}"
            raise RegistryError(message) from None
        for fix in pack:
            check = registry.find(fix.id)
            if check is None or check.fix != fix.id:
                raise RegistryError(f"fix {fix.id} repairs no check that declares it")
            if fix.id in fixes:
                raise RegistryError(f"duplicate fix {fix.id}")
            fixes[fix.id] = fix
    return fixes
