"""Hot reads run on the database driver's own cursor, from SQL compiled once per dialect.

A page of flows makes four short reads (the token's client, the page, what it names, the last runs).
SQLAlchemy's work around each execution (its execution context, parameter and result objects, an
expanding IN rendered anew) cost two to four times what SQLite itself spent on them: measured in
process, a page of flows' references took 0.50 ms through `Connection.execute` and 0.21 ms on the
cursor. `DriverRead` keeps what SQLAlchemy decides (the SQL text, the parameter order, each type's
bind and result conversions), decided once per dialect, and leaves out the rest.

Only statements whose text is the same at every execution qualify: one with an expanding or
post-compiled parameter is refused when first compiled, so a driver read never runs SQL other than
what SQLAlchemy would have run. Driver errors go through SQLAlchemy's own handling, which wraps them
as `DBAPIError` and invalidates a connection the server dropped, as for any other statement, and
listeners of its cursor events see these statements as they see the others, though without an
execution context (`None`): a listener that needs one (some tracing instrumentations) does not
suit these reads. Rows are named tuples of the selected columns' names, not SQLAlchemy `Row`s.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler

Convert = Callable[[Any], Any]


@dataclass
class _Form:
    """One statement compiled for one dialect."""

    sql: str
    positional: tuple[str, ...] | None  # parameter names in order (qmark drivers); None: by name
    fixed: dict[str, Any]  # parameters whose value the statement carries (literals)
    required: frozenset[str]  # parameters the caller gives
    bind: Mapping[str, Convert]  # a parameter's conversion to the driver's value, where its type has one
    types: tuple[Any, ...]  # each result column's SQLAlchemy type
    row: Any  # the named tuple rows are returned as
    # (column index, conversion) where a column's type has one; some depend on the type the driver
    # reports for the column (PostgreSQL's numbers), so they are settled at the first execution.
    result: tuple[tuple[int, Convert], ...] | None = None

    def conversions(self, dialect: Dialect, description: Any) -> tuple[tuple[int, Convert], ...]:
        if self.result is None:
            self.result = tuple(
                (i, convert)
                for i, (type_, column) in enumerate(zip(self.types, description, strict=True))
                if (convert := type_._cached_result_processor(dialect, column[1])) is not None
            )
        return self.result

    def arguments(self, params: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        if not self.required <= params.keys():
            raise ValueError(f"a value is required for {sorted(self.required - params.keys())}")
        values = {**self.fixed, **params}
        for name, convert in self.bind.items():
            values[name] = convert(values[name])
        if self.positional is None:
            return values
        return tuple(values[name] for name in self.positional)


class DriverRead:
    """A select run on the driver's cursor; rows come back as named tuples, converted as SQLAlchemy would."""

    def __init__(self, stmt: Select[Any]) -> None:
        self.stmt = stmt
        self._forms: dict[tuple[str, str], _Form] = {}

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        dialect = conn.dialect
        form = self._forms.get((dialect.name, dialect.driver)) or self._compile(dialect)
        sql, args = form.sql, form.arguments(params)
        # As `Connection.execute` does: refuse a transaction that failed, and begin one if none has
        # begun, so the driver's implicit transaction is the one SQLAlchemy commits or rolls back.
        if (conn._transaction and not conn._transaction.is_active) or (
            conn._nested_transaction and not conn._nested_transaction.is_active
        ):
            conn._invalid_transaction()
        if conn._transaction is None:
            conn._autobegin()
        # Listeners of SQLAlchemy's cursor events (statement counts, tracing) see these reads too.
        events = conn._has_events or conn.engine._has_events
        cursor = None
        try:
            cursor = conn.connection.cursor()
            if events:
                for listener in conn.dispatch.before_cursor_execute:
                    sql, args = listener(conn, cursor, sql, args, None, False)
            cursor.execute(sql, args)
            if events:
                conn.dispatch.after_cursor_execute(conn, cursor, sql, args, None, False)
            fetched = cursor.fetchall()
            result = form.conversions(dialect, cursor.description)
        except BaseException as exc:
            # Wraps the error as DBAPIError, closes the cursor, and invalidates a lost connection.
            conn._handle_dbapi_exception(exc, sql, args, cursor, None)
        cursor.close()
        make = form.row._make
        if not result:
            return [make(r) for r in fetched]
        out = []
        for fetched_row in fetched:
            values = list(fetched_row)
            for i, convert in result:
                values[i] = convert(values[i])
            out.append(make(values))
        return out

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any | None:
        found = self.rows(conn, params)
        return found[0] if found else None

    def _compile(self, dialect: Dialect) -> _Form:
        compiled = self.stmt.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        binds = compiled.binds
        if compiled.post_compile_params or compiled.literal_execute_params or compiled.escaped_bind_names:
            raise ValueError("a driver read needs SQL whose text is the same at every execution")
        if any(b.expanding for b in binds.values()):
            raise ValueError("a driver read cannot take an expanding parameter: bind the values as one")
        bind = {
            name: convert
            for name, b in binds.items()
            if (convert := b.type._cached_bind_processor(dialect)) is not None
        }
        names = [column.keyname for column in compiled._result_columns]
        form = _Form(
            sql=compiled.string,
            positional=tuple(compiled.positiontup or ()) if compiled.positional else None,
            fixed={name: b.effective_value for name, b in binds.items() if not b.required},
            required=frozenset(name for name, b in binds.items() if b.required),
            bind=bind,
            types=tuple(column.type for column in compiled._result_columns),
            row=namedtuple("Row", names),  # type: ignore[misc]  # names come from the statement
        )
        self._forms[(dialect.name, dialect.driver)] = form
        return form
