"""`keyhole doctor --json` on a healthy set-up and on broken ones: daemon stopped, keyring locked, CA missing,
a plain-text token in ~/.git-credentials. The round trip it reports is real (see SelfTest.swift): a healthy
doctor proves a secret went through the store and the proxy to a TLS server."""

from __future__ import annotations

import json

import pytest

from harness import Keyring, KeyholeUser, random_secret


def doctor(user, *extra: str):
    result = user.cmd("doctor", "--json", "--no-runtimes", *extra, timeout=60)
    report = json.loads(result.stdout)
    return result, report, {check["id"]: check for check in report["checks"]}


def test_healthy_setup(user):
    user.add("doc-api", random_secret(), "api.keyhole.test")
    user.status()
    result, report, checks = doctor(user)
    assert result.returncode == 0 and report["ok"] is True, result
    for name in ("daemon", "store", "ca", "roundtrip", "credentials", "plaintext"):
        assert checks[name]["status"] == "ok", checks[name]
    assert "verified" in checks["roundtrip"]["detail"]
    assert "doc-api" in checks["credentials"]["detail"]
    # The self-test leaves nothing behind: no credential, and its audit line says what happened.
    assert [c["name"] for c in json.loads(user.ok("list", "--json").stdout)] == ["doc-api"]
    audit = [r for r in user.audit_records() if r["host"].split(":")[0].endswith(".keyhole.invalid")]
    assert audit and audit[-1]["decision"] == "swap" and audit[-1]["status"] == 200
    text = user.cmd("doctor", "--no-runtimes", env={"NO_COLOR": "1"})
    assert text.returncode == 0 and "\x1b[" not in text.stdout and "All good." in text.stdout, text


def test_daemon_stopped(user):
    user.status()
    user.stop_daemon()
    result, report, checks = doctor(user)
    assert result.returncode == 1 and report["ok"] is False
    assert checks["daemon"]["status"] == "fail" and "keyhole status" in checks["daemon"]["fix"]
    assert checks["roundtrip"]["status"] == "skip"
    assert user.daemon_pids() == [], "doctor must not start a daemon behind the user's back"


def test_ca_missing(user):
    user.status()
    (user.data_dir / "ca.pem").unlink()
    result, report, checks = doctor(user)
    assert result.returncode == 1
    assert checks["ca"]["status"] == "fail" and "keyhole stop" in checks["ca"]["fix"]


def test_plain_text_token_in_git_credentials(user):
    token = random_secret("ghp_")
    (user.home / ".git-credentials").write_text(f"https://me:{token}@github.com\n")
    user.status()
    result, report, checks = doctor(user, "--strict")
    assert result.returncode == 1, "--strict fails on warnings"
    check = checks["plaintext.git-credentials"]
    assert check["status"] == "warn" and "import git-credentials" in check["fix"]
    assert token not in result.stdout + result.stderr
    relaxed, _, _ = doctor(user)
    assert relaxed.returncode == 0, "a warning alone does not fail without --strict"


def test_token_variables_in_the_environment(user):
    user.status()
    token = random_secret("sk-")
    result = user.cmd("doctor", "--json", "--no-runtimes", env={"OPENAI_API_KEY": token})
    check = {c["id"]: c for c in json.loads(result.stdout)["checks"]}["plaintext.environment"]
    assert "OPENAI_API_KEY" in check["detail"] and token not in result.stdout


@pytest.mark.keyring
def test_keyring_locked(keyhole_bin, upstream):
    reason = Keyring.available()
    if reason:
        pytest.skip(reason)
    user = KeyholeUser(upstream=upstream, store="secret-service", passphrase=None)
    keyring = Keyring(user).start()
    try:
        user.status()
        _, healthy, _ = doctor(user)
        assert healthy["ok"] is True, healthy
        keyring.lock()
        result, report, checks = doctor(user)
        assert result.returncode == 1 and report["ok"] is False
        assert checks["store"]["status"] == "fail" and "locked" in checks["store"]["detail"], checks["store"]
        assert "unlock" in checks["store"]["fix"]
        assert checks["roundtrip"]["status"] == "fail", checks["roundtrip"]
    finally:
        try:
            user.stop_daemon()
        finally:
            keyring.stop()
            user.cleanup()


def test_runtimes_are_probed_through_keyhole(user):
    user.status()
    result = user.cmd("doctor", "--json", timeout=180)
    checks = {c["id"]: c for c in json.loads(result.stdout)["checks"]}
    for name in ("curl", "python3"):
        check = checks[f"runtime.{name}"]
        assert check["status"] == "ok" and "reached through keyhole (probed)" in check["detail"], check
    if "runtime.docker" in checks:
        assert checks["runtime.docker"]["status"] == "warn" and "dockerd" in checks["runtime.docker"]["fix"]
    # The probe session and its reach server are gone afterwards.
    assert user.status()["sessions"] == 0
