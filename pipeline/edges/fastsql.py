"""Fast SQL: cached INSERT and UPDATE statements for the per-mail hot path (EDGE, used by store.py).

Peewee builds SQL anew for every query (~0.2 ms each); intake runs about ten statements a mail,
so the hot path uses statements built once per shape and values converted by the fields' own
db_value. Works on SQLite and PostgreSQL (RETURNING id on both).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from peewee import Database, Model

ModelT = TypeVar("ModelT", bound=Model)


@lru_cache(maxsize=256)
def _insert_sql(
    model: type[Model],
    columns: tuple[str, ...],
    rows: int,
    param: str,
    quote: str,
    ignore: bool,
    returning: bool,
) -> str:
    table = model._meta.table_name
    names = ", ".join(f"{quote}{model._meta.fields[c].column_name}{quote}" for c in columns)
    one = "(" + ", ".join([param] * len(columns)) + ")"
    sql = f"INSERT INTO {quote}{table}{quote} ({names}) VALUES {', '.join([one] * rows)}"
    if ignore:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += f" RETURNING {quote}id{quote}"
    return sql


def insert(
    db: Database,
    model: type[Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    ignore: bool = False,
    returning: bool = False,
) -> tuple[int, int | None]:
    """Insert rows (all with the same keys); returns (rows inserted, id of the last new row)."""
    if not rows:
        return 0, None
    columns = tuple(rows[0])
    fields = [model._meta.fields[c] for c in columns]
    params = [f.db_value(row[c]) for row in rows for c, f in zip(columns, fields)]
    sql = _insert_sql(model, columns, len(rows), db.param, db.quote[0], ignore, returning)
    cursor = db.execute_sql(sql, params)
    new_id = None
    if returning:
        fetched = cursor.fetchone()
        new_id = fetched[0] if fetched else None
    return cursor.rowcount, new_id


@lru_cache(maxsize=256)
def _update_sql(
    model: type[Model],
    columns: tuple[str, ...],
    param: str,
    quote: str,
    expected: tuple[str, ...] = (),
) -> str:
    table = model._meta.table_name
    sets = ", ".join(
        f"{quote}{model._meta.fields[c].column_name}{quote} = {param}" for c in columns
    )
    where = "".join(
        f" AND {quote}{model._meta.fields[c].column_name}{quote} = {param}" for c in expected
    )
    return f"UPDATE {quote}{table}{quote} SET {sets} WHERE {quote}id{quote} = {param}{where}"


def update(
    db: Database,
    model: type[Model],
    row_id: int,
    values: Mapping[str, Any],
    expect: Mapping[str, Any] | None = None,
) -> int:
    """UPDATE one row by id (and only while its columns still hold `expect`); returns the rows changed."""
    columns = tuple(values)
    expected = tuple(expect or ())
    params = (
        [model._meta.fields[c].db_value(values[c]) for c in columns]
        + [row_id]
        + [model._meta.fields[c].db_value((expect or {})[c]) for c in expected]
    )
    sql = _update_sql(model, columns, db.param, db.quote[0], expected)
    return int(db.execute_sql(sql, params).rowcount)


CHUNK = 500
"""Most values in one IN list (SQLite allows 32766 parameters, PostgreSQL 65535)."""


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """`values` in slices of at most `size`."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


@lru_cache(maxsize=256)
def _in_sql(template: str, param: str, quote: str, count: int) -> str:
    listed = "(" + ", ".join([param] * count) + ")"
    return template.format(q=quote, p=param, **{"in": listed})


def execute_in(db: Database, template: str, params: Sequence[Any], values: Sequence[Any]) -> int:
    """Run a statement written with {q} (identifier quote), {p} (a parameter) and one {in} (the
    non-empty list `values`, bound after `params`); returns the rows changed."""
    sql = _in_sql(template, db.param, db.quote[0], len(values))
    return int(db.execute_sql(sql, [*params, *values]).rowcount)


def select_in(
    db: Database, template: str, params: Sequence[Any], values: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """Rows of a SELECT written as for execute_in; the statement is built once per shape."""
    return select_rows(db, template, params, values) if values else []


@lru_cache(maxsize=256)
def _model_sql(model: type[Model], template: str, param: str, quote: str, count: int) -> str:
    names = ", ".join(f"{quote}{f.column_name}{quote}" for f in model._meta.sorted_fields)
    table = f"{quote}{model._meta.table_name}{quote}"
    return _in_sql(template.replace("{cols}", names).replace("{table}", table), param, quote, count)


def select_models(
    db: Database,
    model: type[ModelT],
    template: str,
    params: Sequence[Any] = (),
    values: Sequence[Any] = (),
) -> list[ModelT]:
    """Whole rows of `model` as model instances, from a SELECT written with {cols} (every column,
    in field order), {table}, {q}, {p} and at most one {in} (the list `values`, bound after
    `params`). The statement is built once per shape; values go through the fields' own
    python_value, as Peewee's own selects do."""
    fields = model._meta.sorted_fields
    sql = _model_sql(model, template, db.param, db.quote[0], len(values))
    found = []
    for row in db.execute_sql(sql, [*params, *values]).fetchall():
        instance = model(__no_default__=1)
        instance.__data__ = {f.name: f.python_value(v) for f, v in zip(fields, row)}
        found.append(instance)
    return found


def select_rows(
    db: Database, template: str, params: Sequence[Any], values: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """Rows of a SELECT with at most one {in} list (possibly none); built once per shape."""
    sql = _in_sql(template, db.param, db.quote[0], len(values))
    return list(db.execute_sql(sql, [*params, *values]).fetchall())
