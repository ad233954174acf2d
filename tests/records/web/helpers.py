"""What the sign-in tests share: a clock moved by hand, and signing in through the form."""

from __future__ import annotations

import re
import time

import httpx
from fastapi.testclient import TestClient


class Clock:
    """Seconds since the epoch, moved by hand (``create_app(clock=...)``)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def sign_in(client: TestClient, name: str, password: str,
            headers: dict[str, str] | None = None) -> httpx.Response:
    """Fill in and send the login form (its CSRF token included); the redirect not followed."""
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return client.post("/login", data={"username": name, "password": password, "csrf": csrf},
                       headers=headers, follow_redirects=False)
