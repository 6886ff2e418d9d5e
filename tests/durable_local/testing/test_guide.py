"""The testing guide cannot rot: every code block of docs/testing.md marked
``<!-- example: PATH -->`` is a verbatim piece of PATH, and the sample app's tests (which those
blocks come from) pass when run the way a user runs them: pytest in the app folder, with the
plugin found through its entry point."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.fixture_apps import ORDERS_APP
from tests.helpers.paths import PROJECT_ROOT

GUIDE = PROJECT_ROOT / "docs" / "testing.md"
EXAMPLE = re.compile(r"<!-- example: (?P<path>\S+) -->\n```\w*\n(?P<code>.*?)```", re.DOTALL)


def guide_examples() -> list[tuple[str, str]]:
    return [(m["path"], m["code"]) for m in EXAMPLE.finditer(GUIDE.read_text())]


def test_every_guide_example_is_a_verbatim_piece_of_the_sample_app() -> None:
    examples = guide_examples()
    # pytest.ini, then: chain, fan-out, timeout, approval, mock, replay, without the plugin.
    assert len(examples) == 8
    for path, code in examples:
        source = (PROJECT_ROOT / path).read_text()
        assert code in source, f"this guide example is no longer in {path}:\n{code}"


def test_the_guide_covers_each_promised_pattern() -> None:
    code = "\n".join(code for _, code in guide_examples())
    for needle in (
        "auto_advance=True",  # the 72-hour timeout
        "advance(timedelta(hours=71))",
        "price_basket",  # the fan-out
        "mock_activity(",
        "history_builder(",
        "raise_event(",
    ):
        assert needle in code


@pytest.mark.slow
def test_the_sample_apps_tests_pass() -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=ORDERS_APP,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b7 passed\b", done.stdout), done.stdout
