"""Parser for MLflow's search filter grammar, extended with OR and parentheses.

The grammar (keywords are case-insensitive)::

    filter  := or_expr                       -- empty or blank text means "no filter"
    or_expr := and_expr (OR and_expr)*
    and_expr:= atom (AND atom)*
    atom    := '(' or_expr ')' | clause
    clause  := ident op value | ident IS [NOT] NULL | ident [NOT] IN '(' value (',' value)* ')'
    ident   := [entity '.'] key              -- no entity means an attribute
    key     := bare key | `backticked` | "double-quoted"
    value   := number | 'single-quoted' | "double-quoted"

Strings escape their own quote character by doubling it, as SQL does (``'it''s'``); backslashes
are literal, so Windows paths and LIKE patterns need no escaping.

The parser is pure Python on purpose: it runs in the REST layer and the CLI to reject a bad filter
before any store is opened, and it must not drag DuckDB or pandas in with it. The output is a small
frozen AST that :mod:`jupyter_mltrack.store.duckdb.search_sql` compiles to parameterised SQL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, NoReturn

from jupyter_mltrack.errors import InvalidFilterError

__all__ = [
    "DATASET_KEYS",
    "EXPERIMENT_ATTRIBUTES",
    "MAX_FILTER_CLAUSES",
    "MAX_FILTER_LENGTH",
    "MAX_ORDER_BY_TERMS",
    "RUN_ATTRIBUTES",
    "RUN_ATTRIBUTE_ALIASES",
    "And",
    "Comparison",
    "Expr",
    "Or",
    "OrderTerm",
    "parse_experiment_filter",
    "parse_experiment_order_by",
    "parse_filter",
    "parse_logged_model_filter",
    "parse_logged_model_order_by",
    "parse_model_version_filter",
    "parse_model_version_order_by",
    "parse_order_by",
    "parse_registered_model_filter",
    "parse_registered_model_order_by",
]

# ---------------------------------------------------------------------------------------------
# AST
# ---------------------------------------------------------------------------------------------

Scalar = int | float | str


@dataclass(frozen=True)
class Comparison:
    """One clause of a filter, e.g. ``metrics.acc > 0.9``.

    Attributes
    ----------
    entity:
        One of ``"metric"``, ``"param"``, ``"tag"``, ``"attribute"``, ``"dataset"``.
    key:
        The metric/param/tag key as written, or the canonical attribute / dataset field name.
    op:
        Upper-case operator: ``= != < <= > >= LIKE ILIKE IN NOT IN IS NULL IS NOT NULL``.
    value:
        A number or string; a tuple of them for ``IN`` / ``NOT IN``; ``None`` for the ``IS``
        operators.
    """

    entity: str
    key: str
    op: str
    value: Scalar | tuple[Scalar, ...] | None = None


@dataclass(frozen=True)
class And:
    """All of ``items`` must hold."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """At least one of ``items`` must hold."""

    items: tuple[Expr, ...]


Expr = Comparison | And | Or


@dataclass(frozen=True)
class OrderTerm:
    """One ``order_by`` clause: what to sort by and in which direction."""

    entity: str
    key: str
    ascending: bool = True


# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------

NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
NULL_OPS = ("IS NULL", "IS NOT NULL")
ID_OPS = ("=", "!=", "IN", "NOT IN")

_KEYWORDS = frozenset({"AND", "OR", "IN", "NOT", "IS", "NULL", "LIKE", "ILIKE"})

_ENTITY_WORDS = {
    "metric": "metric",
    "metrics": "metric",
    "param": "param",
    "params": "param",
    "parameter": "param",
    "parameters": "param",
    "tag": "tag",
    "tags": "tag",
    "attribute": "attribute",
    "attributes": "attribute",
    "attr": "attribute",
    "run": "attribute",
    "dataset": "dataset",
    "datasets": "dataset",
}

#: Run attributes a filter may name, with the kind of value they compare against.
RUN_ATTRIBUTES: dict[str, str] = {
    "run_id": "string",
    "run_name": "string",
    "status": "string",
    "user_id": "string",
    "artifact_uri": "string",
    "lifecycle_stage": "string",
    "start_time": "number",
    "end_time": "number",
}
#: Other spellings of run attributes, mapped to their canonical name (MLflow's ``created``).
RUN_ATTRIBUTE_ALIASES: dict[str, str] = {"created": "start_time"}
#: Fields of a run's dataset inputs a filter may name.
DATASET_KEYS: tuple[str, ...] = ("name", "digest", "context")
#: Experiment attributes a filter may name; ``id`` compares as an integer id.
EXPERIMENT_ATTRIBUTES: dict[str, str] = {
    "name": "string",
    "experiment_id": "id",
    "creation_time": "number",
    "last_update_time": "number",
}


@dataclass(frozen=True)
class _Rule:
    """What one identifier accepts: its value kind, its operators, and how messages name it."""

    kind: str  # "number", "string" or "id"
    ops: tuple[str, ...]
    op_subject: str  # "operator X is not valid for <op_subject>"
    value_subject: str  # "<value_subject> comparisons take a number, got ..."


_METRIC_RULE = _Rule("number", NUMBER_OPS, "metrics", "metric")
_PARAM_RULE = _Rule("string", STRING_OPS + NULL_OPS, "params", "param")
_TAG_RULE = _Rule("string", STRING_OPS + NULL_OPS, "tags", "tag")

_ORDERABLE_RUN_ENTITIES = ("metric", "param", "tag", "attribute")
_ORDERABLE_EXPERIMENT_ENTITIES = ("tag", "attribute")


def _attribute_rule(name: str, kind: str) -> _Rule:
    ops = {"number": NUMBER_OPS, "string": STRING_OPS, "id": ID_OPS}[kind]
    return _Rule(kind, ops, f"attribute '{name}'", f"attribute '{name}'")


class _Dialect:
    """The identifier vocabulary of one kind of search (runs or experiments)."""

    def __init__(
        self,
        *,
        entities: dict[str, str],
        attributes: dict[str, str],
        aliases: dict[str, str],
        orderable: tuple[str, ...],
        what: str,
    ) -> None:
        self.entities = entities
        self.attributes = attributes
        self.aliases = aliases
        self.orderable = orderable
        self.what = what

    def entity(self, prefix: str, fail: _Fail, pos: int) -> str:
        entity = self.entities.get(prefix.lower())
        if entity is None:
            if prefix.lower() in _ENTITY_WORDS:
                valid = sorted({e + "s" for e in self.entities.values()})
                fail(f"{self.what} filters can only use {' and '.join(valid)}, not '{prefix}'", pos)
            valid_words = ", ".join(sorted(self.entities))
            fail(f"unknown entity '{prefix}'; valid: {valid_words}", pos)
        return entity

    def resolve(self, entity: str, key: str, fail: _Fail, pos: int) -> tuple[str, _Rule]:
        if entity == "metric":
            return key, _METRIC_RULE
        if entity == "param":
            return key, _PARAM_RULE
        if entity == "tag":
            return key, _TAG_RULE
        if entity == "dataset":
            # Dataset fields are a closed set, like attributes; accept any case for them.
            name = key.lower()
            if name not in DATASET_KEYS:
                fail(f"unknown dataset field '{key}'; valid: {', '.join(DATASET_KEYS)}", pos)
            return name, _Rule("string", STRING_OPS, f"dataset field '{name}'", "dataset")
        name = key.lower()
        name = self.aliases.get(name, name)
        if name not in self.attributes:
            valid = ", ".join(sorted([*self.attributes, *self.aliases]))
            fail(f"unknown attribute '{key}'; valid: {valid}", pos)
        return name, _attribute_rule(name, self.attributes[name])


_RUN_DIALECT = _Dialect(
    entities=_ENTITY_WORDS,
    attributes=RUN_ATTRIBUTES,
    aliases=RUN_ATTRIBUTE_ALIASES,
    orderable=_ORDERABLE_RUN_ENTITIES,
    what="run",
)
_EXPERIMENT_DIALECT = _Dialect(
    # "run." would read as nonsense on an experiment, so only the generic attribute spellings.
    entities={
        word: entity
        for word, entity in _ENTITY_WORDS.items()
        if entity in ("tag", "attribute") and word != "run"
    },
    attributes=EXPERIMENT_ATTRIBUTES,
    aliases={},
    orderable=_ORDERABLE_EXPERIMENT_ENTITIES,
    what="experiment",
)

# ---------------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------------

_WORD = "word"
_NUMBER = "number"
_STRING = "string"
_QUOTED_KEY = "quoted_key"
_OP = "op"
_LPAREN = "("
_RPAREN = ")"
_COMMA = ","
_EOF = "eof"

# ASCII classes spelled out: \d would accept other scripts' digits that int() then rejects.
_NUMBER_RE = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT_RE = re.compile(r"-?[0-9]+")
_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")
_INT64_MAX = 2**63 - 1
# Each parenthesis level costs a few Python frames; bound it so hostile input gets a clean error
# instead of a RecursionError (which the REST layer would turn into a 500).
_MAX_DEPTH = 64
#: The most characters a filter may have. Query planning grows steeply with a filter's size and
#: a search holds the store while it plans, so a bound here protects every face (REST, CLI, API).
MAX_FILTER_LENGTH = 8_000
#: The most comparisons one filter may hold (planning time grows roughly with their cube).
MAX_FILTER_CLAUSES = 100
#: The most ``order_by`` terms one search may carry.
MAX_ORDER_BY_TERMS = 10


class _Token(NamedTuple):
    kind: str
    value: Scalar
    pos: int
    raw: str
    quote: str = ""


_Fail = Callable[[str, int], NoReturn]


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """Read the quoted text starting at ``text[start]``; return (content, index past the end)."""
    quote = text[start]
    parts: list[str] = []
    i = start + 1
    while True:
        j = text.find(quote, i)
        if j < 0:
            what = "backtick-quoted key" if quote == "`" else "string"
            raise InvalidFilterError(f"unterminated {what}", text, start)
        parts.append(text[i:j])
        if text.startswith(quote, j + 1):
            # A doubled quote stands for one literal quote character, as in SQL.
            parts.append(quote)
            i = j + 2
            continue
        return "".join(parts), j + 1


def _number(raw: str, text: str, pos: int) -> int | float:
    if _INT_RE.fullmatch(raw):
        value = int(raw)
        # Past BIGINT range DuckDB cannot bind an int against a BIGINT column; a float can.
        return value if abs(value) <= _INT64_MAX else float(value)
    number = float(raw)
    if not math.isfinite(number):
        raise InvalidFilterError(f"number out of range: {raw}", text, pos)
    return number


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "(),":
            tokens.append(_Token(ch, ch, i, ch))
            i += 1
            continue
        if ch in "!<>=":
            two = text[i : i + 2]
            if two in ("!=", "<=", ">="):
                op = two
            elif ch != "!":
                op = ch
            else:
                raise InvalidFilterError("unexpected character '!'; did you mean '!='?", text, i)
            tokens.append(_Token(_OP, op, i, op))
            i += len(op)
            continue
        if ch in "'\"`":
            content, end = _read_quoted(text, i)
            kind = _QUOTED_KEY if ch == "`" else _STRING
            tokens.append(_Token(kind, content, i, text[i:end], ch))
            i = end
            continue
        if ch in "-.0123456789":
            match = _NUMBER_RE.match(text, i)
            if match:
                end = match.end()
                if end < n and text[end] in _WORD_CHARS:
                    bad = re.match(r"[-A-Za-z0-9_.+]*", text[i:]).group()  # type: ignore[union-attr]
                    raise InvalidFilterError(f"invalid number '{bad}'", text, i)
                raw = match.group()
                tokens.append(_Token(_NUMBER, _number(raw, text, i), i, raw))
                i = end
                continue
        match = _WORD_RE.match(text, i)
        if match:
            tokens.append(_Token(_WORD, match.group(), i, match.group()))
            i = match.end()
            continue
        raise InvalidFilterError(f"unexpected character {ch!r}", text, i)
    tokens.append(_Token(_EOF, "", n, ""))
    return tokens


def _describe(tok: _Token) -> str:
    if tok.kind == _EOF:
        return "the end of the filter"
    if tok.kind == _WORD and tok.raw.upper() in _KEYWORDS:
        return f"keyword {tok.raw.upper()}"
    if tok.kind in (_STRING, _QUOTED_KEY):
        return tok.raw  # already carries its quotes
    return f"'{tok.raw}'"


# ---------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, dialect: _Dialect) -> None:
        self.text = text
        self.dialect = dialect
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.clauses = 0

    # -- helpers ------------------------------------------------------------------------------

    def fail(self, message: str, pos: int) -> NoReturn:
        raise InvalidFilterError(message, self.text, pos)

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        tok = self.tokens[self.index]
        if tok.kind != _EOF:
            self.index += 1
        return tok

    @staticmethod
    def is_keyword(tok: _Token, *words: str) -> bool:
        return tok.kind == _WORD and tok.raw.upper() in words

    def previous_text(self) -> str:
        """How the last consumed token reads in an 'expected X after Y' message."""
        if self.index == 0:
            return ""
        prev = self.tokens[self.index - 1]
        shown = prev.raw.upper() if prev.raw.upper() in _KEYWORDS else prev.raw
        return f" after '{shown}'"

    # -- grammar ------------------------------------------------------------------------------

    def parse_all(self) -> Expr:
        expr = self.parse_or()
        tok = self.peek()
        if tok.kind == _RPAREN:
            self.fail("unexpected ')'", tok.pos)
        if tok.kind != _EOF:
            self.fail(f"unexpected {_describe(tok)}; expected AND or OR", tok.pos)
        return expr

    def parse_or(self) -> Expr:
        items = [self.parse_and()]
        while self.is_keyword(self.peek(), "OR"):
            self.advance()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Expr:
        items = [self.parse_atom()]
        while self.is_keyword(self.peek(), "AND"):
            self.advance()
            items.append(self.parse_atom())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_atom(self) -> Expr:
        tok = self.peek()
        if tok.kind != _LPAREN:
            return self.parse_clause()
        if self.depth >= _MAX_DEPTH:
            self.fail(f"parentheses nested more than {_MAX_DEPTH} deep", tok.pos)
        self.advance()
        self.depth += 1
        expr = self.parse_or()
        self.depth -= 1
        close = self.peek()
        if close.kind != _RPAREN:
            self.fail(
                f"expected ')' to close the '(' at position {tok.pos}, got {_describe(close)}",
                close.pos,
            )
        self.advance()
        return expr

    def parse_identifier(self) -> tuple[str, str, _Rule, str]:
        """Read ``[entity.]key``; return (entity, canonical key, rule, text as written)."""
        after = self.previous_text()  # taken before advancing, so it names the token before
        tok = self.advance()
        if tok.kind == _WORD and tok.raw.upper() not in _KEYWORDS:
            word = tok.raw
            if "." not in word:
                entity, key, key_pos, shown = "attribute", word, tok.pos, word
            else:
                prefix, key = word.split(".", 1)
                entity = self.dialect.entity(prefix, self.fail, tok.pos)
                key_pos = tok.pos + len(prefix) + 1
                shown = word
                if not key:
                    # "metrics." followed by a quoted key: metrics.`my key` / metrics."my key"
                    nxt = self.peek()
                    if nxt.kind == _QUOTED_KEY or (nxt.kind == _STRING and nxt.quote == '"'):
                        self.advance()
                        key, key_pos, shown = str(nxt.value), nxt.pos, word + nxt.raw
                    else:
                        self.fail(
                            f"expected a key after '{word}', got {_describe(nxt)}; quote keys "
                            "with special characters in backticks or double quotes",
                            nxt.pos,
                        )
                elif key.endswith("."):
                    self.fail("a bare key cannot end with '.'", tok.pos + len(word) - 1)
        elif tok.kind == _QUOTED_KEY or (tok.kind == _STRING and tok.quote == '"'):
            entity, key, key_pos, shown = "attribute", str(tok.value), tok.pos, tok.raw
        elif tok.kind == _STRING:
            self.fail(
                f"expected an identifier{after}, got the string {tok.raw}; quote "
                "keys with backticks or double quotes",
                tok.pos,
            )
        else:
            self.fail(f"expected an identifier{after}, got {_describe(tok)}", tok.pos)
        if not key:
            self.fail("empty key", key_pos)
        key, rule = self.dialect.resolve(entity, key, self.fail, key_pos)
        return entity, key, rule, shown

    def parse_operator(self, shown: str) -> tuple[str, _Token]:
        tok = self.advance()
        if tok.kind == _OP:
            return str(tok.value), tok
        if tok.kind == _WORD:
            word = tok.raw.upper()
            if word in ("LIKE", "ILIKE", "IN"):
                return word, tok
            if word == "NOT":
                nxt = self.advance()
                if not self.is_keyword(nxt, "IN"):
                    self.fail(f"expected IN after NOT, got {_describe(nxt)}", nxt.pos)
                return "NOT IN", tok
            if word == "IS":
                nxt = self.advance()
                op = "IS NULL"
                if self.is_keyword(nxt, "NOT"):
                    op = "IS NOT NULL"
                    nxt = self.advance()
                if not self.is_keyword(nxt, "NULL"):
                    self.fail(f"expected NULL after {op[:-5]}, got {_describe(nxt)}", nxt.pos)
                return op, tok
        self.fail(f"expected an operator after '{shown}', got {_describe(tok)}", tok.pos)

    def coerce(self, tok: _Token, rule: _Rule) -> Scalar:
        """Check one value token against what the identifier compares with."""
        value = tok.value
        if rule.kind == "number" and tok.kind != _NUMBER:
            self.fail(f"{rule.value_subject} comparisons take a number, got {tok.raw}", tok.pos)
        if rule.kind == "string" and tok.kind != _STRING:
            self.fail(
                f"{rule.value_subject} comparisons take a quoted string, got {tok.raw}", tok.pos
            )
        if rule.kind == "id":
            # Experiment ids are strings in MLflow's API but integers here; take either spelling.
            digits = str(value).strip()
            if isinstance(value, float) or not _INT_RE.fullmatch(digits):
                self.fail(f"{rule.value_subject} takes an integer id, got {tok.raw}", tok.pos)
            return str(int(digits))
        return value

    def parse_value(self, op: str, rule: _Rule) -> Scalar:
        tok = self.advance()
        if tok.kind not in (_NUMBER, _STRING):
            self.fail(f"expected a value after '{op}', got {_describe(tok)}", tok.pos)
        return self.coerce(tok, rule)

    def parse_tuple(self, op: str, rule: _Rule) -> tuple[Scalar, ...]:
        open_tok = self.advance()
        if open_tok.kind != _LPAREN:
            self.fail(f"expected '(' after {op}, got {_describe(open_tok)}", open_tok.pos)
        if self.peek().kind == _RPAREN:
            self.fail(f"{op} needs at least one value", self.peek().pos)
        values: list[Scalar] = []
        while True:
            tok = self.advance()
            if tok.kind not in (_NUMBER, _STRING):
                after = "','" if values else f"'{op} ('"
                self.fail(f"expected a value after {after}, got {_describe(tok)}", tok.pos)
            values.append(self.coerce(tok, rule))
            sep = self.advance()
            if sep.kind == _RPAREN:
                return tuple(values)
            if sep.kind != _COMMA:
                self.fail(f"expected ',' or ')' in the {op} list, got {_describe(sep)}", sep.pos)

    def parse_clause(self) -> Comparison:
        self.clauses += 1
        if self.clauses > MAX_FILTER_CLAUSES:
            self.fail(
                f"a filter may hold at most {MAX_FILTER_CLAUSES} comparisons; split the search "
                "or use IN (...)",
                self.peek().pos,
            )
        entity, key, rule, shown = self.parse_identifier()
        op, op_tok = self.parse_operator(shown)
        if op not in rule.ops:
            self.fail(f"operator {op} is not valid for {rule.op_subject}", op_tok.pos)
        value: Scalar | tuple[Scalar, ...] | None
        if op in NULL_OPS:
            value = None
        elif op in ("IN", "NOT IN"):
            value = self.parse_tuple(op, rule)
        else:
            value = self.parse_value(op, rule)
        return Comparison(entity, key, op, value)

    def parse_order_term(self) -> OrderTerm:
        start = self.peek().pos
        entity, key, _rule, _shown = self.parse_identifier()
        if entity not in self.dialect.orderable:
            self.fail(f"cannot order {self.dialect.what}s by {entity}s", start)
        tok = self.advance()
        ascending = True
        if self.is_keyword(tok, "ASC", "DESC"):
            ascending = tok.raw.upper() == "ASC"
            tok = self.advance()
        if tok.kind != _EOF:
            self.fail(f"unexpected {_describe(tok)}; expected ASC or DESC", tok.pos)
        return OrderTerm(entity, key, ascending)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def _parse(text: str | None, dialect: _Dialect) -> Expr | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidFilterError(f"a filter must be a string, got {type(text).__name__}", "", 0)
    if not text.strip():
        return None
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilterError(
            f"a filter may be at most {MAX_FILTER_LENGTH} characters long, got {len(text)}",
            text[:80] + "…",
            MAX_FILTER_LENGTH,
        )
    return _Parser(text, dialect).parse_all()


def _parse_order(clauses: list[str] | None, dialect: _Dialect) -> list[OrderTerm]:
    if not clauses:
        return []
    if isinstance(clauses, str):
        # A lone string would otherwise be iterated character by character.
        clauses = [clauses]
    if not isinstance(clauses, (list, tuple)):
        raise InvalidFilterError(
            f"order_by must be a list of strings, got {type(clauses).__name__}", "", 0
        )
    if len(clauses) > MAX_ORDER_BY_TERMS:
        raise InvalidFilterError(
            f"at most {MAX_ORDER_BY_TERMS} order_by clauses may be given, got {len(clauses)}",
            "",
            0,
        )
    terms = []
    for clause in clauses:
        if not isinstance(clause, str):
            raise InvalidFilterError(
                f"an order_by clause must be a string, got {type(clause).__name__}", "", 0
            )
        if not clause.strip():
            raise InvalidFilterError("empty order_by clause", clause, 0)
        if len(clause) > MAX_FILTER_LENGTH:
            raise InvalidFilterError(
                f"an order_by clause may be at most {MAX_FILTER_LENGTH} characters long",
                clause[:80] + "…",
                MAX_FILTER_LENGTH,
            )
        terms.append(_Parser(clause, dialect).parse_order_term())
    return terms


def parse_filter(text: str | None) -> Expr | None:
    """Parse a run search filter.

    Parameters
    ----------
    text:
        The filter, e.g. ``"metrics.acc > 0.9 AND (params.model = 'cnn' OR tags.team = 'cv')"``.
        ``None``, an empty string or only whitespace means no filter.

    Returns
    -------
    Expr or None
        The AST (:class:`Comparison`, :class:`And` or :class:`Or`), or ``None`` for no filter.

    Raises
    ------
    InvalidFilterError
        If the text does not parse; ``position`` is the 0-based offset of the offending token.
    """
    return _parse(text, _RUN_DIALECT)


def parse_order_by(clauses: list[str] | None) -> list[OrderTerm]:
    """Parse run ``order_by`` clauses such as ``["metrics.acc DESC", "start_time"]``.

    Parameters
    ----------
    clauses:
        Each clause is ``<identifier> [ASC|DESC]``; ascending when no direction is given.
        Metrics, params, tags and attributes can be ordered by; datasets cannot.

    Returns
    -------
    list of OrderTerm
        One term per clause, in order; empty for ``None`` or an empty list.

    Raises
    ------
    InvalidFilterError
        If a clause does not parse; ``text`` is that clause and ``position`` is within it.
    """
    return _parse_order(clauses, _RUN_DIALECT)


def parse_experiment_filter(text: str | None) -> Expr | None:
    """Parse an experiment search filter.

    Identifiers are the attributes ``name``, ``experiment_id``, ``creation_time`` and
    ``last_update_time`` (optionally written ``attributes.name`` etc.) and ``tags.<key>``. The same
    operators, AND/OR and parentheses as for runs apply; ``experiment_id`` takes ``= != IN NOT IN``
    with an integer or a quoted integer and is normalised to a decimal string.

    Parameters
    ----------
    text:
        The filter; ``None`` or blank means no filter.

    Returns
    -------
    Expr or None
        The AST, with entities ``"attribute"`` and ``"tag"`` only, or ``None``.

    Raises
    ------
    InvalidFilterError
        If the text does not parse.
    """
    return _parse(text, _EXPERIMENT_DIALECT)


def parse_experiment_order_by(clauses: list[str] | None) -> list[OrderTerm]:
    """Parse experiment ``order_by`` clauses, e.g. ``["name ASC", "tags.team DESC"]``.

    Parameters
    ----------
    clauses:
        Each clause is ``<attribute or tags.key> [ASC|DESC]``.

    Returns
    -------
    list of OrderTerm
        One term per clause; empty for ``None`` or an empty list.

    Raises
    ------
    InvalidFilterError
        If a clause does not parse.
    """
    return _parse_order(clauses, _EXPERIMENT_DIALECT)


# ---------------------------------------------------------------------------------------------
# Registry searches: registered models, model versions, logged models
# ---------------------------------------------------------------------------------------------

#: Registered-model attributes a filter may name.
REGISTERED_MODEL_ATTRIBUTES: dict[str, str] = {
    "name": "string",
    "creation_timestamp": "number",
    "last_updated_timestamp": "number",
}
#: Model-version attributes a filter may name (MLflow's names).
MODEL_VERSION_ATTRIBUTES: dict[str, str] = {
    "name": "string",
    "run_id": "string",
    "source_path": "string",
    "version_number": "number",
    "current_stage": "string",
    "model_id": "string",
    "creation_timestamp": "number",
    "last_updated_timestamp": "number",
}
#: Logged-model attributes a filter may name.
LOGGED_MODEL_ATTRIBUTES: dict[str, str] = {
    "name": "string",
    "model_id": "string",
    "source_run_id": "string",
    "status": "string",
    "model_type": "string",
    "creation_timestamp": "number",
    "last_updated_timestamp": "number",
}


def _registry_dialect(
    attributes: dict[str, str], aliases: dict[str, str], what: str, with_params: bool = False
) -> _Dialect:
    allowed = ("tag", "attribute", "param") if with_params else ("tag", "attribute")
    return _Dialect(
        entities={
            word: entity
            for word, entity in _ENTITY_WORDS.items()
            if entity in allowed and word != "run"
        },
        attributes=attributes,
        aliases=aliases,
        orderable=("tag", "attribute"),
        what=what,
    )


_REGISTERED_MODEL_DIALECT = _registry_dialect(
    REGISTERED_MODEL_ATTRIBUTES,
    {
        "creation_time": "creation_timestamp",
        "last_update_time": "last_updated_timestamp",
        "timestamp": "last_updated_timestamp",
    },
    "registered model",
)
_MODEL_VERSION_DIALECT = _registry_dialect(
    MODEL_VERSION_ATTRIBUTES,
    {
        "version": "version_number",
        "source": "source_path",
        "stage": "current_stage",
        "creation_time": "creation_timestamp",
        "last_update_time": "last_updated_timestamp",
    },
    "model version",
)
_LOGGED_MODEL_DIALECT = _registry_dialect(
    LOGGED_MODEL_ATTRIBUTES,
    {"creation_time": "creation_timestamp", "last_update_time": "last_updated_timestamp"},
    "logged model",
    with_params=True,
)


def parse_registered_model_filter(text: str | None) -> Expr | None:
    """Parse a registered-model filter: ``name``, timestamps and ``tags.<key>``."""
    return _parse(text, _REGISTERED_MODEL_DIALECT)


def parse_registered_model_order_by(clauses: list[str] | None) -> list[OrderTerm]:
    """Parse registered-model order_by clauses (``name``, ``last_updated_timestamp DESC``)."""
    return _parse_order(clauses, _REGISTERED_MODEL_DIALECT)


def parse_model_version_filter(text: str | None) -> Expr | None:
    """Parse a model-version filter: ``name``, ``run_id``, ``source_path``,
    ``version_number``, ``current_stage``, ``model_id``, timestamps and ``tags.<key>``."""
    return _parse(text, _MODEL_VERSION_DIALECT)


def parse_model_version_order_by(clauses: list[str] | None) -> list[OrderTerm]:
    """Parse model-version order_by clauses (``version_number DESC`` …)."""
    return _parse_order(clauses, _MODEL_VERSION_DIALECT)


def parse_logged_model_filter(text: str | None) -> Expr | None:
    """Parse a logged-model filter: ``name``, ``model_id``, ``source_run_id``, ``status``,
    ``model_type``, timestamps, ``tags.<key>`` and ``params.<key>``."""
    return _parse(text, _LOGGED_MODEL_DIALECT)


def parse_logged_model_order_by(clauses: list[str] | None) -> list[OrderTerm]:
    """Parse logged-model order_by clauses."""
    return _parse_order(clauses, _LOGGED_MODEL_DIALECT)
