"""Tables Python can render: dates and timestamps outside years 1..9999 as ISO 8601 text, for previews.

PostgreSQL sources and the lake carry PostgreSQL's whole date range (4714 BC to 5874897 AD), but
previews become JSON through Python values, and Python's `date`/`datetime` stop at years 1 and 9999.
A preview column that holds such a value is shown as text in ISO 8601's expanded form: astronomical
years with a sign beyond four digits (`-0043-03-15` is 44 BC, `+10000-01-01`); Arrow's own cast
prints `<value out of range: …>` for the last dates. Other columns, and these columns in a preview
without such values, are unchanged.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

_DAY_US = 86_400_000_000
_FIRST_DAY, _LAST_DAY = -719162, 2932896  # 0001-01-01 and 9999-12-31, days since 1970-01-01


def python_safe(table: pa.Table) -> pa.Table:
    """`table` with each date/timestamp column (or list of them) holding such a value as text."""
    for i, field in enumerate(table.schema):
        listed = pa.types.is_list(field.type) or pa.types.is_large_list(field.type)
        inner = field.type.value_type if listed else field.type
        if not (pa.types.is_date32(inner) or pa.types.is_timestamp(inner)):
            continue
        column = table.column(i)
        values = pc.list_flatten(column) if listed else column
        if not _beyond_python(values):
            continue
        texts = [_text(v, inner) for v in _integers(values, inner)]
        if listed:
            offsets = pc.list_value_length(column).to_pylist()
            rows, k = [], 0
            for n in offsets:
                rows.append(None if n is None else texts[k : k + n])
                k += n or 0
            table = table.set_column(i, pa.field(field.name, pa.list_(pa.string())), pa.array(rows))
        else:
            table = table.set_column(i, pa.field(field.name, pa.string()), pa.array(texts, pa.string()))
    return table


def _integers(values: pa.ChunkedArray | pa.Array, kind: pa.DataType) -> list[int | None]:
    return values.cast(pa.int32() if pa.types.is_date32(kind) else pa.int64()).to_pylist()  # type: ignore[no-any-return]


def _beyond_python(values: pa.ChunkedArray | pa.Array) -> bool:
    date = pa.types.is_date32(values.type)
    low, high = pc.min_max(values.cast(pa.int32() if date else pa.int64())).values()
    first, last = (_FIRST_DAY, _LAST_DAY) if date else (_FIRST_DAY * _DAY_US, (_LAST_DAY + 1) * _DAY_US - 1)
    return bool(low.is_valid and (low.as_py() < first or high.as_py() > last))


def _text(value: int | None, kind: pa.DataType) -> str | None:
    if value is None:
        return None
    if pa.types.is_date32(kind):
        return _date(value)
    days, micros = divmod(value, _DAY_US)
    seconds, fraction = divmod(micros, 1_000_000)
    clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    if fraction:
        clock += f".{fraction:06d}"
    zone = "+00:00" if getattr(kind, "tz", None) else ""
    return f"{_date(days)}T{clock}{zone}"


def _date(days: int) -> str:
    """Proleptic Gregorian date of a day number (H. Hinnant's civil_from_days, floor division)."""
    z = days + 719468
    era, doe = divmod(z, 146097)
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    shown = f"{year:04d}" if 1 <= year <= 9999 else f"{year:+05d}"
    return f"{shown}-{month:02d}-{day:02d}"
