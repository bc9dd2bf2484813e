"""JSON Schema failures worded as the Swift validator words them, and the formats it checks.

jsonschema's draft-07 validator finds the failures; `summarize` turns them into the
`validation_error` body Switchyard uses everywhere: missing fields, and each failing field once
with its first reason (`"volume": "must be an integer"`), `$` naming the payload itself.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Mapping, cast

from jsonschema import FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError

from .errors import ValidationError


_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$"
)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_IPV4 = re.compile(r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$")


def _valid_date(year: str, month: str, day: str) -> bool:
    try:
        datetime(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def is_rfc3339(text: str) -> bool:
    """Whether `text` is an RFC 3339 date-time with an offset (leap seconds allowed, as the spec does)."""
    match = _DATE_TIME.match(text)
    if match is None or not _valid_date(match[1], match[2], match[3]):
        return False
    hour, minute, second = int(match[4]), int(match[5]), int(match[6])
    if hour > 23 or minute > 59 or second > 60:
        return False
    return match[9] is None or (int(match[9]) <= 23 and int(match[10]) <= 59)


#: The formats the Swift validator checks; others are annotations.
FORMATS = FormatChecker(formats=())
FORMATS.checks("date-time")(lambda value: not isinstance(value, str) or is_rfc3339(value))
FORMATS.checks("date")(
    lambda value: not isinstance(value, str) or (bool(m := _DATE.match(value)) and m is not None and _valid_date(m[1], m[2], m[3]))
)
FORMATS.checks("ipv4")(lambda value: not isinstance(value, str) or _IPV4.match(value) is not None)


def _display(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_TYPE_NAMES = [
    ("null", "null"), ("boolean", "a boolean"), ("integer", "an integer"), ("number", "numeric"),
    ("string", "a string"), ("array", "an array"), ("object", "an object"),
]


def _type_reason(types: Any) -> str:
    wanted = {types} if isinstance(types, str) else set(types)
    names = [text for name, text in _TYPE_NAMES if name in wanted]
    return f"must be {names[0]}" if len(names) == 1 else "must be one of: " + ", ".join(names)


def _reasons(error: SchemaError) -> Iterator[tuple[str, str | None, list[str]]]:
    """(reason, missing property, extra path) for one jsonschema error, worded as the Swift validator words it."""
    keyword, argument, instance = error.validator, cast(Any, error.validator_value), cast(Any, error.instance)
    if keyword == "required" and isinstance(instance, Mapping):
        for name in argument:
            if name not in instance:
                yield ("is required", str(name), [])
        return
    if keyword == "dependencies" and isinstance(instance, Mapping):
        for name, needed in argument.items():
            if name in instance and isinstance(needed, list):
                for missing in needed:
                    if missing not in instance:
                        yield (f"is required when {name} is present", str(missing), [])
        return
    if keyword == "additionalProperties" and isinstance(instance, Mapping):
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        declared = set(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        for name in instance:
            if name not in declared and not any(p.search(name) for p in patterns):
                yield ("is not allowed", None, [str(name)])
        return
    simple: dict[str, Callable[[], str]] = {
        "type": lambda: _type_reason(argument),
        "enum": lambda: "must be one of: " + ", ".join(_display(v) for v in argument),
        "const": lambda: f"must be {_display(argument)}",
        "minimum": lambda: f"must be at least {_display(argument)}",
        "exclusiveMinimum": lambda: f"must be greater than {_display(argument)}",
        "maximum": lambda: f"must be at most {_display(argument)}",
        "exclusiveMaximum": lambda: f"must be less than {_display(argument)}",
        "multipleOf": lambda: f"must be a multiple of {_display(argument)}",
        "minLength": lambda: f"must be at least {argument} characters long",
        "maxLength": lambda: f"must be at most {argument} characters long",
        "pattern": lambda: f"must match pattern {argument}",
        "format": lambda: f"must be a valid {argument}",
        "minItems": lambda: f"must have at least {argument} items",
        "maxItems": lambda: f"must have at most {argument} items",
        "uniqueItems": lambda: "must not contain duplicate items",
        "contains": lambda: "must contain at least one matching item",
        "minProperties": lambda: f"must have at least {argument} properties",
        "maxProperties": lambda: f"must have at most {argument} properties",
        "anyOf": lambda: "must match at least one of the allowed schemas",
        "oneOf": lambda: "must match exactly one of the allowed schemas",
        "not": lambda: "must not match the disallowed schema",
        "false": lambda: "is not allowed",
    }
    reason = simple.get(str(keyword))
    yield (reason() if reason else error.message, None, [])


def summarize(errors: Iterable[SchemaError]) -> ValidationError | None:
    """The `validation_error` for schema errors, as the Swift router reports them: missing fields,
    and each failing field once with its first reason; `$` names the payload itself."""
    missing: list[str] = []
    invalid: list[tuple[str, str]] = []
    seen: set[str] = set()
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        for reason, missing_name, extra in _reasons(error):
            parts = [str(p) for p in error.absolute_path] + extra + ([missing_name] if missing_name else [])
            name = ".".join(parts) if parts else "$"
            if name in seen:
                continue
            seen.add(name)
            if missing_name is not None:
                missing.append(name)
            else:
                invalid.append((name, reason))
    return ValidationError(missing, invalid) if missing or invalid else None
