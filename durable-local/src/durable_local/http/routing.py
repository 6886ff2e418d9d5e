"""ASP.NET-style route templates, as the Functions host matches HTTP trigger routes.

Supported: literal segments (matched case-insensitively), ``{name}``, ``{name?}`` (optional),
``{name=default}``, catch-all ``{*name}`` / ``{**name}`` in the last segment, several
parameters separated by literals inside one segment (``{a}.{b}``), and the inline constraints
``int long bool datetime decimal double float guid alpha minlength(n) maxlength(n) length(n)
length(a,b) min(n) max(n) range(a,b) regex(expr)`` chained with ``:``. Templates are sorted by
the ASP.NET inbound precedence (literal before constrained parameter before parameter before
catch-all), so ``items/new`` beats ``items/{id}`` whatever the registration order.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote

from durable_local.model import parse_time
from durable_local.model.errors import BadRequest


class RouteTemplateError(ValueError):
    """A route template that the host would refuse to register."""


Check = Callable[[str], bool]
_SURROGATE = re.compile("[\ud800-\udfff]")

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INTEGER = re.compile(r"^[+-]?\d+$")


def _integer_in(bounds: tuple[int, int]) -> Check:
    def check(value: str) -> bool:
        text = value.strip()
        return bool(_INTEGER.match(text)) and bounds[0] <= int(text) <= bounds[1]

    return check


def _is_float(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _is_decimal(value: str) -> bool:
    try:
        return Decimal(value.strip()).is_finite()
    except InvalidOperation:
        return False


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value.strip("{}()"))
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        parse_time(value)
    except ValueError:
        return False
    return True


def _as_int(value: str) -> int | None:
    text = value.strip()
    return int(text) if _INTEGER.match(text) else None


_SIMPLE: dict[str, Check] = {
    "int": _integer_in(_INT32),
    "long": _integer_in(_INT64),
    "bool": lambda v: v.strip().lower() in ("true", "false"),
    "datetime": _is_datetime,
    "decimal": _is_decimal,
    "double": _is_float,
    "float": _is_float,
    "guid": _is_guid,
    "alpha": lambda v: bool(re.fullmatch(r"[A-Za-z]+", v)),
}


def _numbers(name: str, args: str, count: int) -> list[int]:
    parts = [p.strip() for p in args.split(",")]
    if len(parts) != count or not all(_INTEGER.match(p) for p in parts):
        raise RouteTemplateError(f"Constraint '{name}({args})' needs {count} integer argument(s).")
    return [int(p) for p in parts]


def _constraint(spec: str) -> Check:
    name, paren, rest = spec.partition("(")
    name = name.strip().lower()
    if not paren:
        if name in _SIMPLE:
            return _SIMPLE[name]
        raise RouteTemplateError(f"Unknown route constraint '{spec}'.")
    if not rest.endswith(")"):
        raise RouteTemplateError(f"Malformed route constraint '{spec}'.")
    args = rest[:-1]
    if name == "regex":
        try:
            pattern = re.compile(args, re.IGNORECASE)
        except re.error as exc:
            raise RouteTemplateError(f"Invalid regex constraint '{args}': {exc}") from None
        return lambda v: pattern.search(v) is not None
    if name in ("minlength", "maxlength"):
        (n,) = _numbers(name, args, 1)
        return (lambda v: len(v) >= n) if name == "minlength" else (lambda v: len(v) <= n)
    if name == "length":
        bounds = _numbers(name, args, 2 if "," in args else 1)
        low, high = (bounds[0], bounds[0]) if len(bounds) == 1 else (bounds[0], bounds[1])
        return lambda v: low <= len(v) <= high
    if name in ("min", "max"):
        (n,) = _numbers(name, args, 1)
        if name == "min":
            return lambda v: (x := _as_int(v)) is not None and x >= n
        return lambda v: (x := _as_int(v)) is not None and x <= n
    if name == "range":
        low, high = _numbers(name, args, 2)
        return lambda v: (x := _as_int(v)) is not None and low <= x <= high
    raise RouteTemplateError(f"Unknown route constraint '{spec}'.")


@dataclass(frozen=True)
class _Parameter:
    name: str
    group: str
    checks: tuple[Check, ...]
    optional: bool
    default: str | None
    catch_all: bool


def _split_constraints(body: str) -> list[str]:
    """Split ``name:c1:c2(args)`` on ``:`` outside parentheses."""
    parts: list[str] = []
    depth = 0
    current = ""
    for ch in body:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == ":" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _segment_pieces(segment: str, template: str) -> list[str | tuple[str]]:
    """Literal strings and ``(parameter_body,)`` tuples, in order."""
    pieces: list[str | tuple[str]] = []
    i = 0
    literal = ""
    while i < len(segment):
        ch = segment[i]
        if ch == "{":
            if segment.startswith("{{", i):
                literal += "{"
                i += 2
                continue
            depth = 0
            j = i
            while j < len(segment):
                if segment[j] == "(":
                    depth += 1
                elif segment[j] == ")":
                    depth -= 1
                elif segment[j] == "}" and depth == 0:
                    break
                j += 1
            if j >= len(segment):
                raise RouteTemplateError(f"Unclosed '{{' in route '{template}'.")
            if literal:
                pieces.append(literal)
                literal = ""
            pieces.append((segment[i + 1 : j],))
            i = j + 1
        elif ch == "}":
            if segment.startswith("}}", i):
                literal += "}"
                i += 2
                continue
            raise RouteTemplateError(f"Unmatched '}}' in route '{template}'.")
        else:
            literal += ch
            i += 1
    if literal:
        pieces.append(literal)
    return pieces


class RouteTemplate:
    """A compiled route template; ``match(raw_path)`` returns the decoded route values."""

    def __init__(self, template: str) -> None:
        self.template = template.strip("/")
        self.parameters: list[_Parameter] = []
        self.precedence: tuple[int, ...] = ()
        self._regex = self._compile()

    def _compile(self) -> re.Pattern[str]:
        segments = self.template.split("/") if self.template else []
        regex = "^"
        ranks: list[int] = []
        seen: set[str] = set()
        for index, segment in enumerate(segments):
            if segment == "":
                raise RouteTemplateError(f"Empty segment in route '{self.template}'.")
            pieces = _segment_pieces(segment, self.template)
            params = [p for p in pieces if isinstance(p, tuple)]
            if not params:
                regex += "/" + re.escape(segment)
                ranks.append(1)
                continue
            if len(pieces) == 1:
                parameter = self._parameter(params[0][0], index == len(segments) - 1, seen)
                ranks.append(5 if parameter.catch_all else 3 if parameter.checks else 4)
                if parameter.catch_all:
                    regex += f"(?:/(?P<{parameter.group}>.*))?"
                elif parameter.optional:
                    regex += f"(?:/(?P<{parameter.group}>[^/]+))?"
                else:
                    regex += f"/(?P<{parameter.group}>[^/]+)"
                continue
            # A complex segment: literals and parameters mixed, e.g. "{name}.{ext}".
            ranks.append(2)
            regex += "/"
            for piece in pieces:
                if isinstance(piece, str):
                    regex += re.escape(piece)
                    continue
                parameter = self._parameter(piece[0], False, seen)
                if parameter.catch_all:
                    raise RouteTemplateError(
                        f"A catch-all parameter must be a whole segment in '{self.template}'."
                    )
                regex += f"(?P<{parameter.group}>[^/]+)"
        self.precedence = tuple(ranks)
        return re.compile(regex + "/?$", re.IGNORECASE)

    def _parameter(self, body: str, last_segment: bool, seen: set[str]) -> _Parameter:
        catch_all = body.startswith("*")
        body = body.lstrip("*")
        default: str | None = None
        optional = False
        parts = _split_constraints(body)
        name = parts[0]
        constraints = parts[1:]
        # Optional marker / default value sit at the very end of the body.
        if constraints:
            last = constraints[-1]
            if "=" in last and not last.rstrip().endswith(")"):
                constraints[-1], _, default = last.partition("=")
            elif last.endswith("?"):
                constraints[-1] = last[:-1]
                optional = True
        else:
            if "=" in name:
                name, _, default = name.partition("=")
            elif name.endswith("?"):
                name = name[:-1]
                optional = True
        name = name.strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", name):
            raise RouteTemplateError(f"Invalid parameter name '{name}' in '{self.template}'.")
        if name.lower() in seen:
            raise RouteTemplateError(f"Parameter '{name}' appears twice in '{self.template}'.")
        seen.add(name.lower())
        if catch_all and not last_segment:
            raise RouteTemplateError(
                f"A catch-all parameter must be the last segment of '{self.template}'."
            )
        if default is not None:
            optional = True
        if optional and not last_segment and not catch_all:
            raise RouteTemplateError(f"Only the last segment of '{self.template}' may be optional.")
        parameter = _Parameter(
            name=name,
            group=f"p{len(self.parameters)}",
            checks=tuple(_constraint(c) for c in constraints if c),
            optional=optional or catch_all,
            default=default,
            catch_all=catch_all,
        )
        self.parameters.append(parameter)
        return parameter

    def match(self, raw_path: str) -> dict[str, str] | None:
        """Route values for ``raw_path`` (percent-encoded, leading ``/``), or None."""
        path = raw_path if raw_path.startswith("/") else "/" + raw_path
        found = self._regex.match(path)
        if found is None:
            return None
        values: dict[str, str] = {}
        for parameter in self.parameters:
            raw = found.group(parameter.group)
            if raw is None or raw == "":
                if parameter.default is not None:
                    values[parameter.name] = parameter.default
                elif not parameter.optional:
                    return None
                continue
            # Bytes that are not UTF-8 are refused instead of silently becoming U+FFFD: an
            # instance id made of them could never be addressed again.
            value = unquote(raw, errors="surrogateescape")
            if _SURROGATE.search(value):
                raise BadRequest(
                    f"The URL's '{parameter.name}' is not valid UTF-8 once percent-decoded."
                )
            if not all(check(value) for check in parameter.checks):
                return None
            values[parameter.name] = value
        return values


def sort_by_precedence(templates: Sequence[RouteTemplate]) -> list[RouteTemplate]:
    """ASP.NET inbound order: per segment literal < complex < constrained < plain < catch-all."""
    return sorted(templates, key=lambda t: t.precedence)
