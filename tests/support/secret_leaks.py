"""Known secret values and the search for them (the secrets-leak tests of issue #16).

A test hands each edition known secret values (`known_secrets`), exercises the paths that could
leak them, gathers everything a user or another tenant can see (logs, API answers, Events,
statuses) as {where: text}, and calls `assert_no_leaks`. A value counts as leaked when it appears
as written or base64-encoded (how Kubernetes Secrets and Basic auth carry values).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping


def known_secrets(*names: str) -> dict[str, str]:
    """{name: a random value starting with the name} (unique per run, easy to trace)."""
    return {name: f"{name}-{os.urandom(8).hex()}" for name in names}


def leaks(secrets: Mapping[str, str], texts: Mapping[str, str]) -> list[str]:
    """'SECRET in WHERE' for every secret value found in a text."""
    found = []
    for where, text in texts.items():
        for name, value in secrets.items():
            forms: Iterable[str] = (value, base64.b64encode(value.encode()).decode())
            if any(form in text for form in forms):
                found.append(f"{name} in {where}")
    return found


def assert_no_leaks(secrets: Mapping[str, str], texts: Mapping[str, str]) -> None:
    found = leaks(secrets, texts)
    assert not found, "secret values leaked:\n" + "\n".join(found)
