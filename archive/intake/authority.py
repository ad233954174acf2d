"""Authority control for issuers: the bodies a letter can come from, matched, never guessed.

Archives describe a record's creator against an authority file, so that one body has one
name however its letterheads print it and however OCR reads them. This list holds the
issuing bodies: a code (the abbreviation inside document numbers, such as ``TCCT``), the
name in its preferred form, the parent body's code, and the variants and other codes the
body is known by. It is seeded from the roadmap's units and extended by managers (a TOML
file, ``records authority add``).

A letterhead is matched line by line on a folded copy (no diacritics, lower case, no
punctuation), with an edit-distance ratio, so ``TÖNG CỤC CHÍNH TRỊ`` (German letters from a
union model) and ``CUC TUYEN HUAN`` (marks lost) find their body. The issuing body is the
deepest one matched: a letterhead prints the parent above the issuer, and the issuer is
what the record is filed under. A match is taken when it is close, or fairly close and
confirmed (its parent also printed above it, or its code in the document number); anything
weaker is reported, not used: a wrong issuer misfiles a record, a missing one sends it to a
person.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rapidfuzz.distance import Levenshtein

from archive.index import fold
from config.errors import UsageError

__all__ = ["Authority", "AuthorityError", "AuthorityList", "AuthorityMatch", "IssuerReading",
           "load_authorities", "save_authority"]

SURE = 0.9
"""Similarity (0..1, folded) at which a letterhead line is taken for a body on its own."""
CONFIRMED = 0.75
"""Similarity at which it is taken when its parent is printed above it or its code is in
the document number."""
_CODE = re.compile(r"^[A-Za-zĐđ][\wĐđ.&-]{0,23}$")


class AuthorityError(UsageError, ValueError):
    """An authority file cannot be used; the message names every problem, on one line."""


class UnitLike(Protocol):
    """What the roadmap's units offer: enough to seed the list."""

    code: str
    name: str
    parent: str | None


@dataclass(frozen=True)
class Authority:
    """One body a record can come from."""

    code: str
    """Its abbreviation, as document numbers write it (``TCCT``); the key of the list."""
    name: str
    """The preferred form of its name (``TỔNG CỤC CHÍNH TRỊ``)."""
    parent: str | None = None
    """The code of the body above it, if the list knows it."""
    variants: tuple[str, ...] = ()
    """Other names it is printed or known by."""
    abbreviations: tuple[str, ...] = ()
    """Other codes its document numbers use."""

    @property
    def codes(self) -> tuple[str, ...]:
        return (self.code, *self.abbreviations)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.variants)


@dataclass(frozen=True)
class AuthorityMatch:
    """A body found in a letterhead, with the evidence."""

    authority: Authority
    heading: str  # the issuer as filed: parent's name / its name, in the list's spelling
    read: str  # the letterhead line(s) it was found on, as OCR read them
    score: float  # similarity of the folded forms, 0..1
    confirmed_by: tuple[str, ...]  # "parent", "number"

    def describe(self) -> str:
        """How the issuer was read, for the record's field sources."""
        evidence = f", confirmed by its {' and '.join(self.confirmed_by)}" \
            if self.confirmed_by else ""
        return (f"authority {self.authority.code}, letterhead read {self.read!r} "
                f"(similarity {self.score:.2f}{evidence})")


@dataclass(frozen=True)
class IssuerReading:
    """What a letterhead gave: a match, or why there is none (then the field is left for
    a person, with this note as the evidence)."""

    match: AuthorityMatch | None
    note: str


def _key(text: str) -> str:
    """Folded, letters and digits only, one space between words."""
    return " ".join(re.sub(r"[^\w]+", " ", fold(text)).replace("_", " ").split())


@dataclass(frozen=True)
class _Hit:
    line: int
    authority: Authority
    score: float
    read: str


@dataclass
class AuthorityList:
    """The bodies known, by code; immutable once built."""

    entries: tuple[Authority, ...] = ()
    _by_code: dict[str, Authority] = field(init=False, repr=False)
    _keys: list[tuple[Authority, str, int]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_code = {}
        for entry in self.entries:
            for code in entry.codes:
                self._by_code.setdefault(code.casefold(), entry)
        self._keys = [(entry, key, len(key.split())) for entry in self.entries
                      for key in {_key(name) for name in entry.names} if key]

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, code: str) -> Authority | None:
        return self._by_code.get(code.casefold())

    def codes(self) -> tuple[str, ...]:
        """Every code document numbers may carry, abbreviations included."""
        return tuple(code for entry in self.entries for code in entry.codes)

    def ancestors(self, authority: Authority) -> list[Authority]:
        """Its parent, the parent's parent, ...; stops at a cycle or an unknown code."""
        chain: list[Authority] = []
        current = authority
        while current.parent and (parent := self.get(current.parent)) is not None \
                and parent not in chain and parent != authority:
            chain.append(parent)
            current = parent
        return chain

    def heading(self, authority: Authority) -> str:
        """The issuer as filed: the parent's name and the body's, as a letterhead prints
        them (a direct parent only: that is what Decree 30 and DIN letterheads show)."""
        parents = self.ancestors(authority)
        return " / ".join([parents[0].name, authority.name] if parents else [authority.name])

    def match(self, lines: Sequence[str], number: str | None = None) -> IssuerReading:
        """The issuing body printed in *lines* (a letterhead, top to bottom), confirmed by
        the codes in *number* when it has them."""
        hits = self._hits(lines)
        codes = {part.casefold() for part in re.split(r"[^\wĐđ]+", number or "") if part}
        best: tuple[tuple[int, int, float, int], AuthorityMatch] | None = None
        for hit in hits:
            parents = self.ancestors(hit.authority)
            above = {h.authority.code for h in hits if h.line < hit.line}
            confirmed = tuple(name for name, yes in (
                ("parent", bool(parents) and parents[0].code in above),
                ("number", any(code.casefold() in codes for code in hit.authority.codes)))
                if yes)
            if hit.score < SURE and not (hit.score >= CONFIRMED and confirmed):
                continue
            if parents and "parent" not in confirmed and (hit.line > 0 or not confirmed):
                # Printed under some other body ("BỘ Y TẾ / VỤ PHÁP CHẾ" is not the
                # department's Vụ Pháp chế, whatever its number says), or alone and
                # unconfirmed ("VĂN PHÒNG"): not this body.
                continue
            found = AuthorityMatch(hit.authority, self.heading(hit.authority), hit.read,
                                   round(hit.score, 3), confirmed)
            rank = (len(confirmed), len(parents), hit.score, hit.line)
            if best is None or rank > best[0]:
                best = rank, found
        if best is not None:
            return IssuerReading(best[1], best[1].describe())
        # What the letterhead said, for the person who reviews it: its lines of words (the
        # number's and the date's lines are fields of their own).
        read = " / ".join(line for line in lines
                          if line.strip() and not any(c.isdigit() for c in line))
        closest = max(hits, key=lambda h: h.score, default=None)
        hint = f"; closest: {closest.authority.code} at {closest.score:.2f}" if closest else ""
        return IssuerReading(None, f"letterhead {read[:160]!r} names no body in the "
                                   f"authority list{hint}")

    def _hits(self, lines: Sequence[str]) -> list[_Hit]:
        """The best body for each line, and for each two lines read together (long names
        wrap; such a hit stands on the second line), with a similarity of at least
        CONFIRMED. The longer name wins a tie: "TỔNG CỤC THUẾ" is not "TỔNG CỤC"."""
        keys = [_key(line) for line in lines]
        hits: list[_Hit] = []
        for index, key in enumerate(keys):
            spans = [(index, key, lines[index])]
            if index + 1 < len(keys) and key and keys[index + 1]:
                spans.append((index + 1, f"{key} {keys[index + 1]}",
                              f"{lines[index]} / {lines[index + 1]}"))
            for line, span, read in spans:
                found = [(score, words, entry) for entry, name, words in self._keys
                         if span and (score := _best_window(span, name, words)) >= CONFIRMED]
                if found:
                    # Among sure matches the longer name wins ("TỔNG CỤC CHÍNH TR]Ị" is
                    # TCCT read with a speck, not TỔNG CỤC exactly); else the closer one.
                    score, _, entry = max(found, key=lambda f: (
                        f[0] >= SURE, f[1] if f[0] >= SURE else 0, round(f[0], 2), f[1]))
                    hits.append(_Hit(line, entry, score, read))
        return hits


def _best_window(span: str, name: str, words: int) -> float:
    """The best similarity of *name* to any run of about as many words in *span*: a line
    may carry more than the name (the motto beside it, a return address)."""
    tokens = span.split()
    best = 0.0
    for size in {max(1, words - 1), words, words + 1}:
        for start in range(0, max(1, len(tokens) - size + 1)):
            window = " ".join(tokens[start:start + size])
            best = max(best, Levenshtein.normalized_similarity(window, name))
    return best


# --------------------------------------------------------------------------- files


def _entry(raw: dict[str, Any], where: str, problems: list[str]) -> Authority | None:
    code, name = str(raw.get("code", "")).strip(), str(raw.get("name", "")).strip()
    if not _CODE.match(code):
        problems.append(f"{where}: code {code!r} must be a short abbreviation (letters, "
                        "digits, . & -)")
        return None
    if not name:
        problems.append(f"{where}: authority {code} has no name")
        return None
    lists = {}
    for key in ("variants", "abbreviations"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"{where}: {key} of {code} must be a list of strings")
            return None
        lists[key] = tuple(v.strip() for v in value if v.strip())
    unknown = sorted(set(raw) - {"code", "name", "parent", "variants", "abbreviations"})
    if unknown:
        problems.append(f"{where}: {code} has unknown keys {', '.join(unknown)}")
    parent = str(raw["parent"]).strip() if raw.get("parent") else None
    return Authority(code, name, parent, lists["variants"], lists["abbreviations"])


def read_file(path: Path, problems: list[str]) -> list[Authority]:
    """The ``[[authority]]`` tables of one TOML file; problems are collected, not raised."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        problems.append(f"{path}: cannot be read: {exc}")
        return []
    tables = data.get("authority", [])
    if not isinstance(tables, list):
        problems.append(f"{path}: write each body as an [[authority]] table")
        return []
    return [entry for number, raw in enumerate(tables, start=1)
            if (entry := _entry(raw if isinstance(raw, dict) else {},
                                f"{path.name} #{number}", problems)) is not None]


def load_authorities(files: Iterable[Path], units: Iterable[UnitLike] = ()) -> AuthorityList:
    """The list from the roadmap's *units* and the *files* (later ones add to and override
    earlier ones, by code); raises AuthorityError naming every problem. A parent the list
    does not hold is allowed (the roadmap's top is often the organisation itself): the
    body's heading is then its own name alone."""
    problems: list[str] = []
    merged: dict[str, Authority] = {}
    for unit in units:
        merged[unit.code] = Authority(unit.code, unit.name, unit.parent or None)
    for path in files:
        for entry in read_file(Path(path), problems):
            old = merged.get(entry.code)
            if old is not None:  # a file adds variants to a unit rather than losing them
                entry = Authority(entry.code, entry.name, entry.parent or old.parent,
                                  _merged_names(entry, old),
                                  tuple(dict.fromkeys((*entry.abbreviations,
                                                       *old.abbreviations))))
            merged[entry.code] = entry
    if problems:
        raise AuthorityError("; ".join(problems))
    return AuthorityList(tuple(merged.values()))


def _merged_names(new: Authority, old: Authority) -> tuple[str, ...]:
    names = dict.fromkeys((*new.variants, old.name, *old.variants))
    names.pop(new.name, None)
    return tuple(names)


def save_authority(path: Path, authority: Authority) -> None:
    """Add (or replace, by code) one body in a managers' TOML file, keeping the others."""
    problems: list[str] = []
    entries = [e for e in read_file(path, problems) if e.code != authority.code]
    if problems:
        raise AuthorityError("; ".join(problems))
    entries.append(authority)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.touch(mode=0o600)  # records' files are its user's alone
    temp.chmod(0o600)
    temp.write_text(_toml(entries), encoding="utf-8")
    temp.replace(path)


def _toml(entries: Sequence[Authority]) -> str:
    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    parts = ["# Issuing bodies added by managers (records authority add). Each: code, name,\n"
             "# parent (a code), variants and abbreviations (lists).\n"]
    for entry in entries:
        parts.append(f"\n[[authority]]\ncode = {quoted(entry.code)}\nname = {quoted(entry.name)}\n")
        if entry.parent:
            parts.append(f"parent = {quoted(entry.parent)}\n")
        for key in ("variants", "abbreviations"):
            values = getattr(entry, key)
            if values:
                parts.append(f"{key} = [{', '.join(quoted(v) for v in values)}]\n")
    return "".join(parts)
