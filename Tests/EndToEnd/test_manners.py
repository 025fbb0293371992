"""Terminal manners: every command's --help has an example (on stdout, exit 0), errors say what happened and
what to do, and colour appears only on a terminal and never with NO_COLOR."""

from __future__ import annotations

import os
import pty
import re
import subprocess

import pytest

COMMANDS = ["daemon", "status", "stop", "unlock", "lock", "add", "list", "rm", "rotate", "run", "env", "log",
            "git-credential", "docker-credential", "aws-credential-process", "doctor"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_an_example(user, command):
    result = user.cmd(command, "--help")
    assert result.returncode == 0, result
    assert re.search(r"^Examples?:", result.stdout, re.M), f"`keyhole {command} --help` shows no example:\n{result}"
    assert result.stderr == ""


@pytest.mark.parametrize("args", [("rm", "nosuch"), ("rotate", "nosuch"), ("run",), ("add", "x"),
                                  ("add", "bad name!", "--host", "a.example"), ("run", "--only", "nosuch", "--", "true")])
def test_errors_say_what_to_do(user, args):
    result = user.cmd(*args, input="")
    assert result.returncode != 0
    assert "error:" in result.stderr.lower(), result
    assert "hint:" in result.stderr or "help" in result.stderr.lower(), f"no hint for `keyhole {' '.join(args)}`:\n{result}"


def run_on_a_terminal(user, *args: str, env: dict[str, str] | None = None) -> str:
    """Output of `keyhole ARGS` with stdout on a pseudo-terminal."""
    primary, secondary = pty.openpty()
    full_env = dict(user.env, TERM="xterm-256color", **(env or {}))
    process = subprocess.Popen([str(user.binary), *args], stdout=secondary, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=full_env)
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    process.wait(30)
    os.close(primary)
    return b"".join(chunks).decode(errors="replace")


def test_colour_only_on_a_terminal_and_never_with_no_color(user):
    user.status()
    user.cmd("doctor", "--no-runtimes")
    assert "\x1b[" in run_on_a_terminal(user, "doctor", "--no-runtimes")
    assert "\x1b[" not in run_on_a_terminal(user, "doctor", "--no-runtimes", env={"NO_COLOR": "1"})
    assert "\x1b[" not in user.cmd("doctor", "--no-runtimes").stdout
    assert "\x1b[" in run_on_a_terminal(user, "log")
    assert "\x1b[" not in run_on_a_terminal(user, "log", env={"NO_COLOR": "1"})
