"""The search language archivists type, parsed once for the full-text indexes (``fulltext``).

``quyết định`` (both words), ``"kế hoạch số hóa"`` (a phrase), ``digit*`` (a prefix),
``a OR b``, ``a AND NOT b`` / ``a -b``, and parentheses. Words are folded (no diacritics,
lower case, đ -> d) so a query typed with or without marks finds the same records. A query
that cannot be understood raises :class:`QueryError` with a message for the person who typed
it, never a backend's syntax error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from archive.index.folding import fold
from config.errors import UsageError

_TOKEN = re.compile(r'\s*(?:(?P<quote>"[^"]*"?)|(?P<paren>[()])|(?P<word>[^\s()"]+))')
_WORD_PARTS = re.compile(r"\w+")
MAX_TERMS = 32
MAX_DEPTH = 16  # parentheses and NOTs inside each other: more is an attack, not a question
MAX_LENGTH = 2000  # characters


class QueryError(UsageError, ValueError):
    """The query cannot be understood; the message says why, in words."""


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # folded; more than one is a phrase
    prefix: bool = False


@dataclass(frozen=True)
class Not:
    node: Node


@dataclass(frozen=True)
class And:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    nodes: tuple[Node, ...]


Node = Term | Not | And | Or


def parse(text: str) -> Node:
    """The query as a tree; raises QueryError for what cannot be searched."""
    if len(text) > MAX_LENGTH:
        raise QueryError(f"the query is too long: at most {MAX_LENGTH:,} characters")
    tokens = list(_tokens(text))
    if not tokens:
        raise QueryError("type a word to search for")
    parser = _Parser(tokens)
    node = parser.expression()
    if parser.position < len(tokens):
        raise QueryError(f"unexpected {tokens[parser.position][1]!r}: a closing parenthesis "
                         "without an opening one?")
    if not positive_terms(node):
        raise QueryError("a query needs at least one word to find, not only words to exclude")
    if len(list(_all_terms(node))) > MAX_TERMS:
        raise QueryError(f"too many words: at most {MAX_TERMS}")
    _check_not_placement(node)
    return node


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            break
        position = match.end()
        kind = match.lastgroup
        # Stray punctuation ("&", "-", "*") is not a word: dropped, as a search box does.
        if kind and (kind != "word" or _WORD_PARTS.search(match.group(kind))):
            yield kind, match.group(kind)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0
        self.depth = 0

    def deeper(self) -> None:
        """One more level of nesting; the tree is walked recursively, so it is bounded."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"too deeply nested: at most {MAX_DEPTH} parentheses or NOTs "
                             "inside each other")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def expression(self) -> Node:
        nodes = [self.conjunction()]
        while self._keyword("OR"):
            nodes.append(self.conjunction())
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def conjunction(self) -> Node:
        nodes = [self.unary()]
        while (token := self.peek()) and token != ("paren", ")") and not _is_keyword(token, "OR"):
            self._keyword("AND")
            nodes.append(self.unary())
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def unary(self) -> Node:
        if self._keyword("NOT"):
            return self.negated()
        token = self.peek()
        if token and token[0] == "word" and token[1].startswith("-") and len(token[1]) > 1:
            self.tokens[self.position] = ("word", token[1][1:])
            return self.negated()
        return self.atom()

    def negated(self) -> Node:
        self.deeper()
        node = Not(self.unary())
        self.depth -= 1
        return node

    def atom(self) -> Node:
        token = self.peek()
        if token is None:
            raise QueryError("the query ends where a word was expected (after AND, OR or NOT?)")
        self.position += 1
        kind, value = token
        if kind == "paren":
            if value == ")":
                raise QueryError("a closing parenthesis where a word was expected")
            self.deeper()
            node = self.expression()
            self.depth -= 1
            if self.peek() != ("paren", ")"):
                raise QueryError("a parenthesis is opened but never closed")
            self.position += 1
            return node
        if kind == "quote":
            if len(value) < 2 or not value.endswith('"'):
                raise QueryError("a quotation mark is opened but never closed")
            return _term(value[1:-1], phrase=True)
        if _is_keyword(token, "AND") or _is_keyword(token, "OR"):
            raise QueryError(f"{value} needs a word on each side")
        return _term(value, phrase=False)

    def _keyword(self, word: str) -> bool:
        token = self.peek()
        if token and _is_keyword(token, word):
            self.position += 1
            return True
        return False


def _is_keyword(token: tuple[str, str], word: str) -> bool:
    return token[0] == "word" and token[1] == word  # upper case only: "or" is a word


def _term(text: str, phrase: bool) -> Term:
    prefix = not phrase and text.endswith("*")
    words = tuple(_WORD_PARTS.findall(fold(text.rstrip("*"))))
    if not words:
        raise QueryError(f"{text!r} has no letters or digits to search for")
    if prefix and len(words[-1]) < 2:
        raise QueryError(f"{text!r}: a prefix needs at least two letters before the *")
    return Term(words, prefix)


def _all_terms(node: Node) -> Iterator[Term]:
    if isinstance(node, Term):
        yield node
    elif isinstance(node, Not):
        yield from _all_terms(node.node)
    else:
        for child in node.nodes:
            yield from _all_terms(child)


def positive_terms(node: Node) -> list[Term]:
    """The terms a hit contains (those to mark in snippets), not the excluded ones."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return []
    return [t for child in node.nodes for t in positive_terms(child)]


def _check_not_placement(node: Node) -> None:
    """NOT excludes from something: "a -b" is fine, "a OR -b" has nothing to exclude from."""
    if isinstance(node, Or):
        for child in node.nodes:
            if isinstance(child, Not):
                raise QueryError("NOT must follow a word it excludes from (a NOT b), not OR")
            _check_not_placement(child)
    elif isinstance(node, And):
        if all(isinstance(child, Not) for child in node.nodes):
            raise QueryError("a query needs at least one word to find, not only words to "
                             "exclude")
        for child in node.nodes:
            _check_not_placement(child.node if isinstance(child, Not) else child)
    elif isinstance(node, Not):
        raise QueryError("a query needs at least one word to find, not only words to exclude")
