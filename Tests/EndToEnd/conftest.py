"""Fixtures for keyhole's end-to-end tests: the upstream, isolated users and their daemons."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from harness import KeyholeUser, keyhole_binary
from upstream import Upstream


@pytest.fixture(scope="session")
def keyhole_bin():
    path = keyhole_binary()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"keyhole binary not found at {path}: run `swift build` (or set KEYHOLE_BIN)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def upstream():
    """The HTTPS/HTTP test upstream with its own CA, shared by the whole run (outside every HOME)."""
    directory = tempfile.mkdtemp(prefix="khe2e-upstream-", dir="/tmp")
    server = Upstream(directory).start()
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def make_user(keyhole_bin, upstream):
    """Factory for fresh isolated users (file vault by default); every daemon is stopped afterwards."""
    users: list[KeyholeUser] = []

    def factory(**kwargs) -> KeyholeUser:
        kwargs.setdefault("upstream", upstream)
        user = KeyholeUser(**kwargs)
        users.append(user)
        return user

    yield factory
    for user in users:
        user.cleanup()


@pytest.fixture
def user(make_user) -> KeyholeUser:
    """A fresh user on the file vault, no daemon running yet."""
    return make_user()


@pytest.fixture(scope="module")
def module_user(keyhole_bin, upstream):
    """One user (file vault) whose daemon serves a whole test module."""
    user = KeyholeUser(upstream=upstream)
    yield user
    user.cleanup()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Failure reports never show a secret: every value made by random_secret() is redacted."""
    outcome = yield
    report = outcome.get_result()
    if report.longrepr is not None:
        from harness import redact
        text = str(report.longrepr)
        cleaned = redact(text)
        if cleaned != text:
            report.longrepr = cleaned
