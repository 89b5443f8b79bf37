"""Searching runs: a small filter language, ``order_by`` terms, and paginated queries.

    metrics.rouge_l > 0.4 AND params.lr = '3e-4' AND tags.team = 'nlp' AND attributes.status = 'finished'

Clauses are joined with AND. ``metrics.<key>`` compares the latest value numerically
(=, !=, <, <=, >, >=); ``params.<key>`` and ``tags.<key>`` compare text (=, !=, LIKE, ILIKE,
IN (...), NOT IN (...)), where a numeric literal also matches how Python prints that number
(so ``params.lr = '3e-4'`` finds a run logged with ``lr=3e-4``, stored as '0.0003');
``attributes.<name>`` (or the bare name) filters status, name, id, experiment, user, host,
git_commit, start_time, end_time and seed. Keys with spaces or other punctuation can be
quoted: ``metrics.`my key` > 1``. Order terms are ``<entity>.<key> [ASC|DESC]``; runs without
the metric or param sort last. Everything compiles to SQLAlchemy Core, so it runs the same
on SQLite and PostgreSQL, and a metric sort uses the (key, value) index of latest_metrics.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from ondo.errors import InvalidInput
from ondo.store.tables.core import experiments, latest_metrics, params, runs, tags
from ondo.tracking import experiments as _experiments
from ondo.tracking import heartbeat
from ondo.tracking.runs import RunInfo, load_runs
from ondo.workspace import Workspace

ENTITIES = {
    "metrics": "metric", "metric": "metric", "m": "metric",
    "params": "param", "param": "param", "p": "param",
    "tags": "tag", "tag": "tag", "t": "tag",
    "attributes": "attribute", "attribute": "attribute", "attr": "attribute", "run": "attribute",
}  # fmt: skip

_STRING_ATTRS: dict[str, sa.ColumnElement[Any]] = {
    "status": runs.c.status,
    "name": runs.c.name,
    "run_name": runs.c.name,
    "id": runs.c.id,
    "run_id": runs.c.id,
    "user": runs.c.user,
    "host": runs.c.host,
    "git_commit": runs.c.git_commit,
    "experiment": experiments.c.name,
    "experiment_id": runs.c.experiment_id,
}
_NUMBER_ATTRS: dict[str, sa.ColumnElement[Any]] = {
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "seed": runs.c.seed,
}
_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
_TEXT_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^']|'')*'|"(?:[^"\\]|\\.)*")
     |(?P<bq>`[^`]*`)
     |(?P<num>[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|nan)(?![\w.]))
     |(?P<op>!=|<>|<=|>=|==|=|<|>)
     |(?P<punc>[(),])
     |(?P<word>[A-Za-z_][\w.\-/:]*)
    )""",
    re.X | re.I,
)


@dataclass(frozen=True)
class Token:
    kind: str  # str | num | op | punc | word | ident
    text: str
    pos: int
    value: Any = None


@dataclass(frozen=True)
class Clause:
    entity: str  # metric | param | tag | attribute
    key: str
    op: str
    value: Any  # float | str | tuple[str, ...]


@dataclass(frozen=True)
class OrderTerm:
    entity: str
    key: str
    descending: bool


def _unquote(text: str) -> str:
    if text[0] == "'":
        return text[1:-1].replace("''", "'")
    if text[0] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text[1:-1]  # backticks


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            start = len(text) - len(text[pos:].lstrip())
            raise InvalidInput(
                f"cannot parse filter at position {start + 1}: {text[start : start + 20]!r}", field="filter"
            )
        kind = m.lastgroup or ""
        raw = m.group(kind)
        start = m.start(kind)
        if kind == "str":
            tokens.append(Token("str", raw, start, _unquote(raw)))
        elif kind == "bq":
            # metrics.`my key`: glue the quoted key to the entity word before it
            if tokens and tokens[-1].kind == "word" and tokens[-1].text.endswith("."):
                prev = tokens.pop()
                tokens.append(Token("ident", prev.text + raw, prev.pos, (prev.text[:-1], _unquote(raw))))
            else:
                tokens.append(Token("ident", raw, start, (None, _unquote(raw))))
        elif kind == "num":
            tokens.append(Token("num", raw, start, float(raw)))
        elif kind == "op":
            tokens.append(Token("op", {"==": "=", "<>": "!="}.get(raw, raw), start))
        else:
            tokens.append(Token(kind, raw, start))
        pos = m.end()
    return tokens


def _split_ident(tok: Token, *, allow_bare: bool = True) -> tuple[str, str]:
    if tok.kind == "ident":
        prefix, key = tok.value
    elif tok.kind in ("word", "str"):
        text = tok.value if tok.kind == "str" else tok.text
        prefix, dot, key = text.partition(".")
        if not dot:
            prefix, key = None, text
    else:
        raise InvalidInput(
            f"expected a name such as metrics.acc at position {tok.pos + 1}, got {tok.text!r}", field="filter"
        )
    if prefix is None:
        if not allow_bare or (key.lower() not in _STRING_ATTRS and key.lower() not in _NUMBER_ATTRS):
            raise InvalidInput(
                f"'{key}' needs an entity prefix: metrics.{key}, params.{key}, tags.{key} or attributes.{key}",
                field="filter",
            )
        return "attribute", key.lower()
    entity = ENTITIES.get(prefix.lower())
    if entity is None:
        raise InvalidInput(
            f"unknown entity '{prefix}' in {tok.text!r}: use metrics., params., tags. or attributes.",
            field="filter",
        )
    if not key:
        raise InvalidInput(f"missing key after '{prefix}.'", field="filter")
    if entity == "attribute":
        key = key.lower()
        if key not in _STRING_ATTRS and key not in _NUMBER_ATTRS:
            known = ", ".join(sorted({*_STRING_ATTRS, *_NUMBER_ATTRS}))
            raise InvalidInput(f"unknown run attribute '{key}'; known: {known}", field="filter")
    return entity, key


def parse_filter(text: str | None) -> list[Clause]:
    """Parse a filter string into clauses (joined by AND); InvalidInput says where it went wrong."""
    if text is None or not text.strip():
        return []
    toks = _tokenize(text)
    clauses: list[Clause] = []
    i = 0

    def need(what: str) -> Token:
        if i >= len(toks):
            raise InvalidInput(f"filter ends early: expected {what}", field="filter")
        return toks[i]

    while True:
        entity, key = _split_ident(need("a name such as metrics.acc"))
        i += 1
        tok = need("an operator")
        if tok.kind == "op":
            op = tok.text
            i += 1
        elif tok.kind == "word" and tok.text.upper() in ("LIKE", "ILIKE", "IN"):
            op = tok.text.upper()
            i += 1
        elif tok.kind == "word" and tok.text.upper() == "NOT":
            i += 1
            nxt = need("IN after NOT")
            if not (nxt.kind == "word" and nxt.text.upper() == "IN"):
                raise InvalidInput(f"expected IN after NOT at position {nxt.pos + 1}", field="filter")
            op = "NOT IN"
            i += 1
        else:
            raise InvalidInput(
                f"expected an operator after {key!r} at position {tok.pos + 1}, got {tok.text!r}",
                field="filter",
            )
        value: Any
        if op in ("IN", "NOT IN"):
            if need("(").text != "(":
                raise InvalidInput(f"expected '(' after {op} at position {toks[i].pos + 1}", field="filter")
            i += 1
            items: list[str] = []
            while True:
                v = need("a value")
                if v.kind not in ("str", "num"):
                    raise InvalidInput(
                        f"expected a value at position {v.pos + 1}, got {v.text!r}", field="filter"
                    )
                items.append(v.value if v.kind == "str" else v.text)
                i += 1
                sep = need("',' or ')'")
                i += 1
                if sep.text == ")":
                    break
                if sep.text != ",":
                    raise InvalidInput(f"expected ',' or ')' at position {sep.pos + 1}", field="filter")
            value = tuple(items)
        else:
            v = need("a value")
            if v.kind == "num" or v.kind == "str":
                value = v.value
            else:
                raise InvalidInput(
                    f"expected a number or a quoted string at position {v.pos + 1}, got {v.text!r}",
                    field="filter",
                )
            if entity != "metric" and v.kind == "num":
                value = v.text
            i += 1
        clauses.append(_checked(Clause(entity, key, op, value)))
        if i >= len(toks):
            return clauses
        conj = toks[i]
        if conj.kind == "word" and conj.text.upper() == "AND":
            i += 1
            continue
        if conj.kind == "word" and conj.text.upper() == "OR":
            raise InvalidInput("OR is not supported in filters; run two searches", field="filter")
        raise InvalidInput(f"expected AND at position {conj.pos + 1}, got {conj.text!r}", field="filter")


def _checked(c: Clause) -> Clause:
    numeric = c.entity == "metric" or (c.entity == "attribute" and c.key in _NUMBER_ATTRS)
    if numeric:
        if c.op not in _NUMBER_OPS:
            raise InvalidInput(
                f"operator {c.op} does not apply to {c.entity} '{c.key}'; use {', '.join(_NUMBER_OPS)}",
                field="filter",
            )
        if isinstance(c.value, str):
            try:
                return Clause(c.entity, c.key, c.op, float(c.value))
            except ValueError:
                raise InvalidInput(
                    f"{c.entity} '{c.key}' compares with numbers, got {c.value!r}", field="filter"
                ) from None
        return c
    if c.op not in _TEXT_OPS:
        raise InvalidInput(
            f"operator {c.op} does not apply to {c.entity} '{c.key}' (text); use {', '.join(_TEXT_OPS)}",
            field="filter",
        )
    return c


def number_spellings(text: str) -> list[str]:
    """``text`` plus the usual ways to write the number it spells.

    '3e-4' -> '3e-4', '0.0003', '3e-04', '3.0e-4', '3E-4', ...: a param logged as ``lr=3e-4``
    (stored as Python prints it, '0.0003') and one logged as the string '3e-4' both match
    ``params.lr = '3e-4'`` and ``params.lr = 0.0003``.
    """
    out = [text]
    try:
        f = float(text)
    except ValueError:
        return out
    if not math.isfinite(f):
        return out
    forms = [str(f), repr(f)]
    if f.is_integer():
        forms.append(str(int(f)))
    d = Decimal(repr(f))
    if d != 0:
        digits = "".join(map(str, d.as_tuple().digits)).rstrip("0") or "0"
        sign = "-" if f < 0 else ""
        mantissas = [sign + digits[0] + ("." + digits[1:] if len(digits) > 1 else "")]
        if len(digits) == 1:
            mantissas.append(mantissas[0] + ".0")
        e = d.adjusted()
        exps = {str(e), f"{'-' if e < 0 else '+'}{abs(e):02d}", f"{e:+d}"}
        forms += [f"{m}{E}{x}" for m in mantissas for E in ("e", "E") for x in sorted(exps)]
    for s in forms:
        if s not in out:
            out.append(s)
    return out


def _cmp(col: sa.ColumnElement[Any], op: str, value: Any) -> sa.ColumnElement[bool]:
    if op == "=":
        return col == value
    if op == "!=":
        return col != value
    if op == "<":
        return col < value
    if op == "<=":
        return col <= value
    if op == ">":
        return col > value
    if op == ">=":
        return col >= value
    if op == "LIKE":
        return col.like(value)
    if op == "ILIKE":
        return sa.func.lower(col).like(str(value).lower())
    raise AssertionError(op)


def _text_cond(col: sa.ColumnElement[Any], op: str, value: Any) -> sa.ColumnElement[bool]:
    if op in ("=", "!=", "IN", "NOT IN"):
        values = [value] if isinstance(value, str) else list(value)
        spelled = sorted({s for v in values for s in number_spellings(v)})
        return col.in_(spelled) if op in ("=", "IN") else col.not_in(spelled)
    return _cmp(col, op, value)


def clause_condition(c: Clause) -> sa.ColumnElement[bool]:
    """The WHERE condition for one clause, correlated to ``runs``."""
    if c.entity == "metric":
        lm = latest_metrics
        return sa.exists().where(lm.c.run_id == runs.c.id, lm.c.key == c.key, _cmp(lm.c.value, c.op, c.value))
    if c.entity in ("param", "tag"):
        t = params if c.entity == "param" else tags
        return sa.exists().where(
            t.c.run_id == runs.c.id, t.c.key == c.key, _text_cond(t.c.value, c.op, c.value)
        )
    if c.key in _NUMBER_ATTRS:
        return _cmp(_NUMBER_ATTRS[c.key], c.op, c.value)
    return _text_cond(_STRING_ATTRS[c.key], c.op, c.value)


def parse_order_by(terms: Sequence[str] | str | None) -> list[OrderTerm]:
    if terms is None:
        return []
    if isinstance(terms, str):
        terms = [terms]
    out: list[OrderTerm] = []
    for term in terms:
        if not isinstance(term, str):
            raise InvalidInput(
                f"order_by terms are strings such as 'metrics.acc DESC', got {term!r}", field="order_by"
            )
        try:
            toks = _tokenize(term)
            if not toks:
                continue
            entity, key = _split_ident(toks[0])
        except InvalidInput as exc:  # the shared tokenizer names the filter; this mistake is in order_by
            raise InvalidInput(exc.message.removeprefix("field 'filter': "), field="order_by") from None
        desc = False
        if len(toks) == 2 and toks[1].kind == "word" and toks[1].text.upper() in ("ASC", "DESC"):
            desc = toks[1].text.upper() == "DESC"
        elif len(toks) != 1:
            raise InvalidInput(
                f"cannot parse order_by term {term!r}: use '<entity>.<key> [ASC|DESC]'", field="order_by"
            )
        out.append(OrderTerm(entity, key, desc))
    return out


class RunPage(list[RunInfo]):
    """One page of runs; ``next_page_token`` fetches the next (None on the last page)."""

    def __init__(self, items: list[RunInfo], next_page_token: str | None) -> None:
        super().__init__(items)
        self.next_page_token = next_page_token

    @property
    def runs(self) -> list[RunInfo]:
        return list(self)


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
    except Exception:
        raise InvalidInput(f"invalid page token {token!r}", field="page_token") from None
    if offset < 0:
        raise InvalidInput(f"invalid page token {token!r}", field="page_token")
    return offset


def _ordered(
    q: sa.Select[Any], order: Sequence[OrderTerm], first_alias: int = 0
) -> tuple[sa.Select[Any], list[sa.ColumnElement[Any]]]:
    """Join what ``order`` sorts by onto ``q`` and return the sort keys (missing values last)."""
    sort: list[sa.ColumnElement[Any]] = []
    for n, term in enumerate(order, start=first_alias):
        col: sa.ColumnElement[Any]
        if term.entity in ("metric", "param", "tag"):
            table = {"metric": latest_metrics, "param": params, "tag": tags}[term.entity].alias(f"o{n}")
            q = q.outerjoin(table, sa.and_(table.c.run_id == runs.c.id, table.c.key == term.key))
            col = table.c.value
        elif term.key in _NUMBER_ATTRS:
            col = _NUMBER_ATTRS[term.key]
        elif term.key == "experiment":
            exp = experiments.alias(f"o{n}")
            q = q.outerjoin(exp, exp.c.id == runs.c.experiment_id)
            col = exp.c.name
        else:
            col = _STRING_ATTRS[term.key]
        sort.append(sa.case((col.is_(None), 1), else_=0))
        sort.append(col.desc() if term.descending else col.asc())
    return q, [*sort, runs.c.start_time.desc(), runs.c.id]


def _page_ids(
    conn: sa.Connection,
    base: sa.Select[Any],
    conds: list[sa.ColumnElement[bool]],
    order: Sequence[OrderTerm],
    offset: int,
    limit: int,
) -> list[str]:
    """Ids of rows ``offset .. offset+limit`` of the sorted result."""
    if not order or order[0].entity != "metric":
        q, sort = _ordered(base, order)
        return list(conn.execute(q.where(*conds).order_by(*sort).limit(limit).offset(offset)).scalars())

    # Sorted by a metric first: walk the (key, value) index of latest_metrics instead of sorting
    # every run. Find the value at position offset+limit, take the runs up to it (ties included)
    # in full order, then runs without a value for that metric.
    head, rest = order[0], order[1:]
    lm = latest_metrics.alias("o_head")
    has_value = sa.and_(lm.c.key == head.key, lm.c.value.is_not(None))
    with_metric = base.join(lm, lm.c.run_id == runs.c.id).where(has_value, *conds)
    value_order = lm.c.value.desc() if head.descending else lm.c.value.asc()
    want = offset + limit
    boundary = conn.execute(
        with_metric.with_only_columns(lm.c.value).order_by(value_order).limit(1).offset(want - 1)
    ).scalar()
    q = with_metric
    if boundary is not None:
        q = q.where(lm.c.value >= boundary if head.descending else lm.c.value <= boundary)
    q, sort = _ordered(q, rest, first_alias=1)
    ranked = list(conn.execute(q.order_by(value_order, *sort).limit(want)).scalars())
    page = ranked[offset:]
    if len(ranked) == want:
        return page
    missing = ~sa.exists().where(
        latest_metrics.c.run_id == runs.c.id,
        latest_metrics.c.key == head.key,
        latest_metrics.c.value.is_not(None),
    )
    q, sort = _ordered(base.where(missing), rest, first_alias=1)
    tail_offset = max(0, offset - len(ranked))
    tail = conn.execute(
        q.where(*conds).order_by(*sort).limit(limit - len(page)).offset(tail_offset)
    ).scalars()
    return page + list(tail)


def search_runs(
    ws: Workspace,
    experiment: str | Sequence[str] | None = None,
    filter: str | None = None,
    order_by: Sequence[str] | str | None = None,
    page_size: int = 50,
    page_token: str | None = None,
    *,
    include_deleted: bool = False,
) -> RunPage:
    """Runs matching ``filter`` in ``experiment`` (a name, names, or all), sorted and paginated."""
    clauses = parse_filter(filter)
    order = parse_order_by(order_by)
    if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
        raise InvalidInput(f"page_size must be a positive integer, got {page_size!r}", field="page_size")
    offset = _decode_token(page_token)
    heartbeat.reap(ws)

    base = sa.select(runs.c.id).select_from(runs)
    if any(c.entity == "attribute" and c.key == "experiment" for c in clauses):
        base = base.join(experiments, experiments.c.id == runs.c.experiment_id)
    conds: list[sa.ColumnElement[bool]] = []
    if not include_deleted:
        conds.append(runs.c.deleted == sa.false())
    with ws.read() as conn:
        if experiment is not None:
            names = [experiment] if isinstance(experiment, str) else list(experiment)
            conds.append(runs.c.experiment_id.in_(_experiments.resolve_ids(conn, names)))
        conds.extend(clause_condition(c) for c in clauses)
        ids = _page_ids(conn, base, conds, order, offset, page_size + 1)
        more = len(ids) > page_size
        items = load_runs(conn, ids[:page_size])
    return RunPage(items, _encode_token(offset + page_size) if more else None)
