"""EventBridge schedule expressions, checked structurally (no AWS call). Pure.

    cron(minutes hours day-of-month month day-of-week year)   all in UTC
    rate(N unit)   unit: minute | hour | day when N is 1, minutes | hours | days otherwise

The cron rules are EventBridge's: six fields; exactly one of day-of-month and day-of-week is `?`;
`*`, `,`, `-` and `/` everywhere; `L` and `W` in day-of-month; `L` and `#` in day-of-week; month
and weekday names (JAN-DEC, SUN-SAT; Sunday is 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RATE = re.compile(r"^rate\((?P<value>[0-9]+) (?P<unit>[a-z]+)\)\Z")
CRON = re.compile(r"^cron\((?P<fields>.*)\)\Z")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] means low + i


FIELDS = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, MONTHS),
    _Field("day-of-week", 1, 7, WEEKDAYS),
    _Field("year", 1970, 2199),
)
DAY_OF_MONTH_SPECIAL = re.compile(r"^(L|LW|[0-9]{1,2}W)\Z")
DAY_OF_WEEK_SPECIAL = re.compile(r"^(L|(?P<day>[0-9A-Z]+)(L|#(?P<nth>[0-9]+)))\Z")


class ExpressionError(ValueError):
    """The expression is not one EventBridge accepts; the message says why."""


def _value(text: str, field: _Field) -> int:
    if text.isdigit():
        value = int(text)
    elif text.upper() in field.names:
        value = field.low + field.names.index(text.upper())
    else:
        raise ExpressionError(f"{field.name} field: '{text}' is not a number"
                              + (f" or a name ({field.names[0]}-{field.names[-1]})" if field.names else ""))
    if not field.low <= value <= field.high:
        raise ExpressionError(f"{field.name} field: {value} is outside {field.low}-{field.high}")
    return value


def _expand(text: str, field: _Field) -> set[int]:
    """The values a cron field (without `?`, `L`, `W`, `#`) matches."""
    out: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ExpressionError(f"{field.name} field: empty item in '{text}'")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ExpressionError(f"{field.name} field: the increment in '{part}' must be a positive number")
            step = int(step_text)
        if base == "*":
            first, last = field.low, field.high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _value(a, field), _value(b, field)
            if last < first:
                raise ExpressionError(f"{field.name} field: range '{base}' ends before it starts")
        else:
            first = _value(base, field)
            last = field.high if slash else first
        out.update(range(first, last + 1, step))
    return out


def _check_cron(fields: list[str]) -> tuple[set[int], set[int]]:
    """Check the six fields; returns the minutes and hours the expression fires at."""
    if len(fields) != 6:
        raise ExpressionError(f"cron needs 6 fields (minutes hours day-of-month month day-of-week year), "
                              f"got {len(fields)}")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ExpressionError("exactly one of day-of-month and day-of-week must be '?' (e.g. cron(0 2 * * ? *) "
                              "for every day, cron(0 2 ? * MON *) for Mondays)")
    if dom != "?":
        if not DAY_OF_MONTH_SPECIAL.match(dom):
            _expand(dom, FIELDS[2])
        elif dom.endswith("W") and dom != "LW":
            _value(dom[:-1], FIELDS[2])
    if dow != "?":
        special = DAY_OF_WEEK_SPECIAL.match(dow.upper())
        if not special:
            _expand(dow, FIELDS[4])
        elif special.group("day"):
            _value(special.group("day"), FIELDS[4])
            nth = special.group("nth")
            if nth is not None and not 1 <= int(nth) <= 5:
                raise ExpressionError(f"day-of-week field: '{dow}' asks for week {nth} of the month (1-5)")
    for text, field in ((minutes, FIELDS[0]), (hours, FIELDS[1]), (month, FIELDS[3]), (year, FIELDS[5])):
        if "?" in text:
            raise ExpressionError(f"{field.name} field: '?' is only allowed in day-of-month or day-of-week")
        _expand(text, field)
    return _expand(minutes, FIELDS[0]), _expand(hours, FIELDS[1])


def check(expression: str) -> None:
    """Raise ExpressionError when EventBridge would refuse `expression`."""
    runs_per_day(expression)


def rate_seconds(expression: str) -> int | None:
    """The interval of a valid rate() expression in seconds; None for cron()."""
    m = RATE.match(expression)
    if not m:
        return None
    return int(m.group("value")) * UNIT_SECONDS[m.group("unit").rstrip("s")]


def runs_per_day(expression: str) -> float:
    """How often the schedule can fire within one UTC day (> 1: two runs may share a date). Raises
    ExpressionError for an invalid expression."""
    if expression != expression.strip():
        raise ExpressionError("remove the spaces around the expression")
    m = RATE.match(expression)
    if m:
        value, unit = int(m.group("value")), m.group("unit")
        singular = unit.rstrip("s")
        if singular not in UNIT_SECONDS or unit not in (singular, singular + "s"):
            raise ExpressionError(f"rate unit '{unit}' is not one of minute(s), hour(s), day(s)")
        if value < 1:
            raise ExpressionError("a rate must be at least 1")
        if value == 1 and unit != singular:
            raise ExpressionError(f"write rate(1 {singular}): the unit is singular for 1")
        if value > 1 and unit == singular:
            raise ExpressionError(f"write rate({value} {singular}s): the unit is plural for values above 1")
        return 86400 / (value * UNIT_SECONDS[singular])
    m = CRON.match(expression)
    if m:
        inner = m.group("fields")
        if inner != inner.strip() or "  " in inner:
            raise ExpressionError("separate the six cron fields with single spaces")
        minutes, hours = _check_cron(inner.split(" "))
        return float(len(minutes) * len(hours))
    if expression.startswith(("rate(", "cron(")):
        raise ExpressionError("write rate(N unit) with one space, e.g. rate(6 hours)" if expression.startswith("rate(")
                              else "write cron(...) with its six fields inside the parentheses")
    raise ExpressionError("an EventBridge schedule is cron(minutes hours day-of-month month day-of-week year) or "
                          "rate(N unit), e.g. cron(0 2 * * ? *) or rate(1 day)")
