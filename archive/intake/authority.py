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
what the record is filed under. A match is taken when it is close (and a body with a parent
only under its parent), or fairly close with its code in the document number; two bodies
of different trees, an unknown body printed above or an unknown unit in capitals below
leave the issuer to a person. Anything weaker is reported, not used: a wrong issuer
misfiles a record, a missing one sends it to a person.
"""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rapidfuzz.distance import Levenshtein

from archive.index import fold
from config.errors import UsageError

__all__ = ["Authority", "AuthorityError", "AuthorityList", "AuthorityMatch", "IssuerReading",
           "check_list", "load_authorities", "save_authority"]

SURE = 0.9
"""Similarity (0..1, folded) at which a letterhead line is taken for a body on its own."""
CONFIRMED = 0.75
"""Similarity at which it is taken when its code is in the document number."""
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
    return " ".join(w for w, _ in _tokens(text))


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
        the issuer codes in *number* when it has them."""
        lines = [_nfc(line) for line in lines[:_MAX_LINES]]
        hits = self._hits(lines)
        codes = _issuer_codes(number)
        accepted: list[tuple[tuple[int, int, float, int], AuthorityMatch, _Hit]] = []
        for hit in hits:
            parents = self.ancestors(hit.authority)
            # A parent counts as printed above only when it was read surely: "Stadt Bonn"
            # is 0.8 like "Stadt Köln", and would make Bonn's archive Köln's.
            above = {h.authority.code for h in hits if h.line < hit.line and h.score >= SURE}
            confirmed = tuple(name for name, yes in (
                ("parent", bool(parents) and parents[0].code in above),
                ("number", any(code.casefold() in codes for code in hit.authority.codes)))
                if yes)
            if hit.score < SURE and "number" not in confirmed:
                # Below SURE only the number's issuer code, evidence apart from the
                # letterhead, lets a reading through: a parent printed above does not (its
                # units' names are alike: "CHI CỤC HẢI DƯƠNG" is 0.88 of Hải Phòng).
                continue
            unknown_parent = bool(hit.authority.parent) and not parents
            if (parents or unknown_parent) and "parent" not in confirmed and \
                    (hit.line > 0 or not confirmed):
                # Printed under some other body ("BỘ Y TẾ / VỤ PHÁP CHẾ" is not the
                # department's Vụ Pháp chế, whatever its number says), or alone and
                # unconfirmed ("VĂN PHÒNG"): not this body.
                continue
            found = AuthorityMatch(hit.authority, self.heading(hit.authority), hit.read,
                                   round(hit.score, 3), confirmed)
            accepted.append(((len(confirmed), len(parents), hit.score, -hit.line), found, hit))
        if not accepted:
            return IssuerReading(None, self._unmatched(lines, hits))
        _, best, hit = max(accepted, key=lambda item: item[0])
        tree = {best.authority.code, *(a.code for a in self.ancestors(best.authority))}
        others = sorted({m.authority.code for _, m, _ in accepted
                         if m.authority.code not in tree
                         and best.authority.code not in {a.code for a in
                                                         self.ancestors(m.authority)}})
        if others:  # two bodies, neither above the other: the sender's, and an addressee's?
            return IssuerReading(None, f"the letterhead names {best.authority.code} and "
                                       f"{', '.join(others)}: which one sent it is not sure")
        earlier = _unclaimed_block_above(lines, hit.line, {h.line for h in hits
                                                            if h.authority.code in tree})
        if earlier:  # a body the list does not know is printed above: the sender's?
            return IssuerReading(None, f"{earlier!r} above {best.authority.code} names no "
                                       "body in the authority list: which one sent it is "
                                       "not sure")
        below = _name_line_below(lines, hit.line, {h.line for h in hits if h.score >= SURE})
        if below:  # the issuing unit is printed under the body found, and is not in the list
            return IssuerReading(None, f"{below!r} under {best.authority.code} names no body "
                                       "in the authority list")
        return IssuerReading(best, best.describe())

    @staticmethod
    def _unmatched(lines: Sequence[str], hits: list[_Hit]) -> str:
        # What the letterhead said, for the person who reviews it: its lines of words (the
        # number's and the date's lines are fields of their own).
        read = " / ".join(line for line in lines
                          if line.strip() and not any(c.isdigit() for c in line))
        closest = max(hits, key=lambda h: h.score, default=None)
        hint = f"; closest: {closest.authority.code} at {closest.score:.2f}" if closest else ""
        return f"letterhead {read[:160]!r} names no body in the authority list{hint}"

    def _hits(self, lines: Sequence[str]) -> list[_Hit]:
        """The best body for each line, and for each two lines read together (long names
        wrap; such a hit stands on the second line), with a similarity of at least
        CONFIRMED. The longer name wins a tie: "TỔNG CỤC THUẾ" is not "TỔNG CỤC"."""
        tokens = [_tokens(line) for line in lines]
        hits: list[_Hit] = []
        for index, words in enumerate(tokens):
            spans = [(index, words, lines[index])]
            # The next line with words, over one gap at most: OCR sets a wrapped name's
            # second line apart as often as not ("CỤC VĂN THƯ VÀ LƯU TRỮ", "", "NHÀ NƯỚC").
            after = next((i for i in range(index + 1, min(index + 3, len(tokens)))
                          if tokens[i]), None)
            if after is not None and words:
                spans.append((after, words + tokens[after],
                              f"{lines[index]} / {lines[after]}"))
            for line, span, read in spans:
                found = [(score, count, entry) for entry, name, count in self._keys
                         if span and (score := _best_window(span, name, count)) >= CONFIRMED]
                if found:
                    # Among sure matches the longer name wins ("TỔNG CỤC CHÍNH TR]Ị" is
                    # TCCT read with a speck, not TỔNG CỤC exactly); else the closer one.
                    score, _, entry = max(found, key=lambda f: (
                        f[0] >= SURE, f[1] if f[0] >= SURE else 0, round(f[0], 2), f[1]))
                    hits.append(_Hit(line, entry, score, read))
        return hits


_MAX_LINES = 40  # of a letterhead: more is a body, and matching costs lines x bodies
_MAX_WORDS = 40  # of one line: a run-on line of OCR is no name
_TYPE_CODES = {"qđ", "nq", "ct", "qc", "qyđ", "tb", "hd", "ctr", "kh", "pa", "đa", "da",
               "bc", "bb", "ttr", "hđ", "cđ", "guq", "gm", "ggt", "pc", "tt", "ttlt", "nđ",
               "cv", "tc", "bgn", "btt", "gnp", "pg", "pb"}


def _nfc(text: str) -> str:
    """NFC without format characters (zero-width spaces, direction marks)."""
    return unicodedata.normalize("NFC", "".join(
        c for c in text if unicodedata.category(c) != "Cf"))


def _issuer_codes(number: str | None) -> set[str]:
    """The parts of a document number that name its issuer: not the serial, the year or a
    type code (``PC`` of Bộ Y tế's letter is a type, not the department's Vụ Pháp chế)."""
    parts = [part for part in re.split(r"[^\wĐđ]+", _nfc(number or "")) if part]
    return {part.casefold() for part in parts[1:]
            if not part.isdigit() and part.casefold() not in _TYPE_CODES}


def _tokens(line: str) -> list[tuple[str, bool]]:
    """A line's words folded, each with whether it is set in capitals (a Vietnamese
    letterhead's name continues over capital words; a German one's does not say)."""
    words = re.findall(r"[^\W_]+", _nfc(line))[:_MAX_WORDS]
    return [(fold(word), word.isupper() and len(word) > 1) for word in words]


def _unclaimed_block_above(lines: Sequence[str], line: int, claimed: set[int]) -> str | None:
    """The first block of lines (between blank ones) above the body's block that names no
    body of its tree and holds words: a letterhead of a body the list does not know, over
    an addressee the list does know ("Bezirksamt Pankow" above "An das Bundesministerium")."""
    blocks: list[list[int]] = [[]]
    for index, text in enumerate(lines):
        if text.strip():
            blocks[-1].append(index)
        elif blocks[-1]:
            blocks.append([])
    for block in blocks:
        if line in block or not block or block[0] > line:
            return None
        words = [w for i in block for w in re.findall(r"[^\W\d_]{3,}", lines[i])]
        if words and not claimed.intersection(block):
            return " / ".join(lines[i] for i in block)[:120]
    return None


def _name_line_below(lines: Sequence[str], after: int, matched: set[int]) -> str | None:
    """A line in capitals below the body found, not matched, holding no figures: the name of
    a unit under it that the list does not know ("TỔNG CỤC HẢI QUAN" under BỘ TÀI CHÍNH)."""
    for index in range(after + 1, len(lines)):
        text = lines[index].strip()
        letters = [c for c in text if c.isalpha()]
        if index in matched or not letters or any(c.isdigit() for c in text):
            continue
        if len(text.split()) >= 2 and sum(c.isupper() for c in letters) >= 0.9 * len(letters):
            return text
    return None


def _best_window(span: list[tuple[str, bool]], name: str, words: int) -> float:
    """The best similarity of *name* to any run of about as many words in *span*: a line
    may carry more than the name (the motto beside it, a return address). A run in capitals
    that goes on in capitals is part of a longer name ("TỔNG CỤC THỐNG KÊ" is not TỔNG CỤC):
    it is never a sure match."""
    best = 0.0
    for size in {max(1, words - 1), words, words + 1}:
        for start in range(0, max(1, len(span) - size + 1)):
            run = span[start:start + size]
            text = " ".join(w for w, _ in run)
            # OCR drops and adds spaces ("TỔNGCỤC"): the names compare without them too.
            score = max(Levenshtein.normalized_similarity(text, name),
                        Levenshtein.normalized_similarity(text.replace(" ", ""),
                                                          name.replace(" ", "")))
            if score >= SURE and all(upper for _, upper in run) and any(
                    0 <= at < len(span) and span[at][1] for at in (start - 1, start + size)):
                score = min(score, SURE - 0.01)
            best = max(best, score)
    return best


# --------------------------------------------------------------------------- files


def _text(value: object) -> str | None:
    """A name as the list keeps it: NFC, no control or format characters, one line."""
    if not isinstance(value, str):
        return None
    text = _nfc(value).strip()
    return None if any(unicodedata.category(c) == "Cc" for c in text) else text


def _entry(raw: dict[str, Any], where: str, problems: list[str]) -> Authority | None:
    """One body from its table, or None with every problem of it said."""
    code, name = _text(raw.get("code", "")), _text(raw.get("name", ""))
    if code is None or not _CODE.match(code):
        problems.append(f"{where}: code {raw.get('code')!r} must be a short abbreviation "
                        "(letters, digits, . & -)")
        return None
    if not name:
        problems.append(f"{where}: authority {code} has no name (one line of text)")
        return None
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("variants", "abbreviations"):
        value = raw.get(key, [])
        texts = [_text(v) for v in value] if isinstance(value, list) else [None]
        if any(t is None for t in texts):
            problems.append(f"{where}: {key} of {code} must be a list of one-line strings")
            return None
        lists[key] = tuple(t for t in texts if t)
    bad = [a for a in lists["abbreviations"] if not _CODE.match(a)]
    if bad:
        problems.append(f"{where}: abbreviations of {code} must be short codes, not "
                        f"{', '.join(repr(a) for a in bad)}")
        return None
    unknown = sorted(set(raw) - {"code", "name", "parent", "variants", "abbreviations"})
    if unknown:
        problems.append(f"{where}: {code} has unknown keys "
                        f"{', '.join(repr(k) for k in unknown)}")
    parent = raw.get("parent")
    if parent is not None and (_text(parent) is None or not _CODE.match(_text(parent) or "")):
        problems.append(f"{where}: parent of {code} must be a code, not {parent!r}")
        return None
    return Authority(code, name, _text(parent) or None, lists["variants"],
                     lists["abbreviations"])


def check_list(entries: Iterable[Authority]) -> list[str]:
    """What is wrong with the list as a whole: a code two bodies answer to (letters' case
    aside), a body that is its own parent or ancestor."""
    problems: list[str] = []
    owner: dict[str, str] = {}
    by_code = {entry.code: entry for entry in entries}
    for entry in by_code.values():
        for code in entry.codes:
            other = owner.setdefault(code.casefold(), entry.code)
            if other != entry.code:
                problems.append(f"code {code!r} of {entry.code} is also {other}'s")
        seen, current = {entry.code}, entry
        while current.parent and current.parent in by_code:
            if current.parent in seen:
                problems.append(f"{entry.code} is its own ancestor (parents {' > '.join(seen)})")
                break
            seen.add(current.parent)
            current = by_code[current.parent]
    return problems


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
        merged[unit.code] = Authority(unit.code, _nfc(unit.name), unit.parent or None)
    for path in files:
        for entry in read_file(Path(path), problems):
            old = merged.get(entry.code)
            if old is not None:  # a file adds variants to a unit rather than losing them
                entry = Authority(entry.code, entry.name, entry.parent or old.parent,
                                  _merged_names(entry, old),
                                  tuple(dict.fromkeys((*entry.abbreviations,
                                                       *old.abbreviations))))
            merged[entry.code] = entry
    problems += check_list(merged.values())
    if problems:
        raise AuthorityError("; ".join(problems))
    return AuthorityList(tuple(merged.values()))


def _merged_names(new: Authority, old: Authority) -> tuple[str, ...]:
    names = dict.fromkeys((*new.variants, old.name, *old.variants))
    names.pop(new.name, None)
    return tuple(names)


def save_authority(path: Path, authority: Authority) -> None:
    """Add (or replace, by code) one body in a managers' TOML file, keeping the others; the
    entry and the file are checked before the file is replaced (AuthorityError otherwise),
    so a bad entry never breaks the list for the batches that read it."""
    problems: list[str] = []
    checked = _entry({"code": authority.code, "name": authority.name,
                      **({"parent": authority.parent} if authority.parent else {}),
                      "variants": list(authority.variants),
                      "abbreviations": list(authority.abbreviations)}, "the entry", problems)
    entries = [e for e in read_file(path, problems) if e.code != authority.code]
    if problems or checked is None:
        raise AuthorityError("; ".join(problems))
    entries.append(checked)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.touch(mode=0o600)  # records' files are its user's alone
    temp.chmod(0o600)
    temp.write_text(_toml(entries), encoding="utf-8")
    again: list[str] = []
    if len(read_file(temp, again)) != len(entries) or again:
        temp.unlink(missing_ok=True)
        raise AuthorityError("; ".join(again) or "the list could not be written back")
    temp.replace(path)


def _toml(entries: Sequence[Authority]) -> str:
    def quoted(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string

    parts = ["# Issuing bodies added by managers (records authority add). Each: code, name,\n"
             "# parent (a code), variants and abbreviations (lists).\n"]
    for entry in entries:
        parts.append(f"\n[[authority]]\ncode = {quoted(entry.code)}\n"
                     f"name = {quoted(entry.name)}\n")
        if entry.parent:
            parts.append(f"parent = {quoted(entry.parent)}\n")
        for key in ("variants", "abbreviations"):
            values = getattr(entry, key)
            if values:
                parts.append(f"{key} = [{', '.join(quoted(v) for v in values)}]\n")
    return "".join(parts)
