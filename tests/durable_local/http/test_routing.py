"""Route templates (durable_local.http.routing): ASP.NET Core's syntax, constraints and
precedence, as the Functions host matches HTTP trigger routes."""

from __future__ import annotations

import pytest

from durable_local.http.routing import RouteTemplate, RouteTemplateError, sort_by_precedence

# --------------------------------------------------------------------------------------------
# Route templates
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("orchestrators/{functionName}", "/orchestrators/hello", {"functionName": "hello"}),
        ("orchestrators/{functionName}", "/ORCHESTRATORS/Hello", {"functionName": "Hello"}),
        ("orchestrators/{functionName}", "/orchestrators/hello/", {"functionName": "hello"}),
        ("orchestrators/{functionName}", "/orchestrators", None),
        ("a/{id?}", "/a", {}),
        ("a/{id?}", "/a/5", {"id": "5"}),
        ("a/{id=7}", "/a", {"id": "7"}),
        ("a/{id:int=7}", "/a/8", {"id": "8"}),
        ("a/{id:int}", "/a/-12", {"id": "-12"}),
        ("a/{id:int}", "/a/2147483648", None),
        ("a/{id:long}", "/a/2147483648", {"id": "2147483648"}),
        ("a/{id:int:min(10)}", "/a/9", None),
        ("a/{id:int:range(1,3)}", "/a/3", {"id": "3"}),
        ("a/{id:max(3)}", "/a/4", None),
        ("a/{flag:bool}", "/a/TRUE", {"flag": "TRUE"}),
        ("a/{flag:bool}", "/a/yes", None),
        (
            "a/{g:guid}",
            "/a/0f8fad5b-d9cb-469f-a165-70867728950e",
            {"g": "0f8fad5b-d9cb-469f-a165-70867728950e"},
        ),
        ("a/{g:guid}", "/a/zzz", None),
        ("a/{d:datetime}", "/a/2024-05-01T12:00:00Z", {"d": "2024-05-01T12:00:00Z"}),
        ("a/{x:double}", "/a/1.5", {"x": "1.5"}),
        ("a/{x:decimal}", "/a/abc", None),
        ("a/{s:alpha}", "/a/abc", {"s": "abc"}),
        ("a/{s:minlength(3)}", "/a/ab", None),
        ("a/{s:maxlength(3)}", "/a/abcd", None),
        ("a/{s:length(2)}", "/a/ab", {"s": "ab"}),
        ("a/{s:length(1,2)}", "/a/abc", None),
        ("a/{s:regex(^[a-c]+$)}", "/a/cab", {"s": "cab"}),
        ("a/{s:regex(^[a-c]+$)}", "/a/dab", None),
        ("files/{*path}", "/files/x/y%20z", {"path": "x/y z"}),
        ("files/{**path}", "/files", {}),
        ("{name}.{ext}", "/file.tar.gz", {"name": "file.tar", "ext": "gz"}),
        ("v/{id}", "/v/a%2Fb", {"id": "a/b"}),
        ("", "/", {}),
    ],
)
def test_route_templates(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert RouteTemplate(template).match(path) == expected


@pytest.mark.parametrize(
    "template",
    [
        "a/{id:unknown}",
        "a/{id:min(x)}",
        "a/{id:regex(()}",
        "a/{*rest}/b",
        "a/{id?}/b",
        "a/{id}/{ID}",
        "a/{id",
        "a/id}",
        "a//b",
        "a/{1bad}",
    ],
)
def test_invalid_route_templates(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        RouteTemplate(template)


def test_precedence_orders_literals_first() -> None:
    templates = [
        RouteTemplate(t) for t in ("items/{*rest}", "items/{id}", "items/{id:int}", "items/new")
    ]
    ordered = [t.template for t in sort_by_precedence(templates)]
    assert ordered == ["items/new", "items/{id:int}", "items/{id}", "items/{*rest}"]
