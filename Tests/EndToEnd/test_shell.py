"""Shell integration in real shells: `keyhole shell-init`, `keyhole wrap` / `unwrap` and the PATH wrappers.

Each shell runs non-interactively with the test user's HOME and evaluates `keyhole shell-init SHELL`; a wrapped
curl then reaches the test upstream with the real secret (only keyhole's proxy can inject it, and only keyhole
resolves api.keyhole.test), at the prompt (the shell function) and from a plain `sh -c` script (the wrapper on
PATH). A wrapped probe reports the session it runs in and the daemon's session count, to show that a wrapped
command started inside `keyhole run` never opens a second session."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import random_secret

REPO = Path(__file__).resolve().parents[2]
SHELLS = ["bash", "zsh", "fish"]
BIN_LINE = {
    "bash": "__keyhole_bin={}\n",
    "zsh": "typeset -g __keyhole_bin={}\n",
    "fish": "set -g __keyhole_bin {}\n",
}


def shell_command(shell: str, script: str) -> list[str]:
    """A non-interactive shell that reads no startup file of the user's."""
    found = shutil.which(shell)
    if found is None:
        pytest.skip(f"{shell} is not installed (Debian: apt-get install {shell}; scripts/install-deps.sh --test)")
    return {
        "bash": [found, "--norc", "--noprofile", "-c", script],
        "zsh": [found, "-f", "-c", script],
        "fish": [found, "--no-config", "-c", script],
    }[shell]


def run_shell(user, shell: str, script: str, path: str | None = None, timeout: float = 60):
    env = dict(user.env)
    if path is not None:
        env["PATH"] = path
    result = subprocess.run(shell_command(shell, script), env=env, capture_output=True, text=True,
                            timeout=timeout, cwd=str(user.scratch))
    return result


def fields(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith(" "))


def init_line(user, shell: str) -> str:
    """The line that loads the integration, as a user puts it in their rc file."""
    binary = shlex.quote(str(user.binary))
    return f"{binary} shell-init fish | source" if shell == "fish" else f'eval "$({binary} shell-init {shell})"'


@pytest.fixture
def api_user(user, upstream):
    """A user with a credential the proxy injects for api.keyhole.test, and curl wrapped."""
    secret = random_secret()
    user.add("shellapi", secret, "api.keyhole.test", inject="Authorization: Bearer {secret}")
    upstream.expect("shell", secret)
    user.ok("wrap", "curl")
    return user


def curl_line(shell: str, url: str, label: str) -> str:
    out = "-o /dev/null -w '%{http_code}'"
    if shell == "fish":
        return f"echo {label}=(curl -sS {out} {url})"
    return f'echo "{label}=$(curl -sS {out} {url})"'


def script_line(shell: str, url: str) -> str:
    """A plain sh script calling curl: it sees no shell function, only PATH."""
    inner = f"command -v curl; curl -sS -o /dev/null -w '%{{http_code}}' {url}"
    if shell == "fish":
        return f"echo script=(sh -c {shlex.quote(inner)} | string join ' ')"
    return f'echo "script=$(sh -c {shlex.quote(inner)} | tr "\\n" " ")"'


# ---- shell-init


@pytest.mark.parametrize("shell", SHELLS)
def test_shell_init_prints_the_binary_line_then_the_file(user, shell):
    result = user.ok("shell-init", shell)
    binary = os.path.realpath(user.binary)
    assert "'" not in binary and "\\" not in binary, "the quoting below is the simple case"
    expected = BIN_LINE[shell].format(f"'{binary}'")
    expected += (REPO / "shell" / f"keyhole.{shell}").read_text()
    assert result.stdout == expected, "shell-init must print shell/keyhole.SHELL (run scripts/embed-shell.sh)"


def test_shell_init_needs_a_known_shell(user):
    result = user.cmd("shell-init", "tcsh")
    assert result.returncode != 0
    assert "bash" in result.stderr and "zsh" in result.stderr and "fish" in result.stderr, result
    shown = user.ok("shell-init", "--help")
    assert 'eval "$(keyhole shell-init bash)"' in shown.stdout, "--help shows an example, on stdout"


# ---- wrapped commands in real shells


@pytest.mark.parametrize("shell", SHELLS)
def test_wrapped_curl_goes_through_keyhole_at_the_prompt_and_in_scripts(api_user, upstream, shell):
    url = shlex.quote(upstream.url("/bearer/shell"))
    wrappers = str(api_user.data_dir / "bin")
    path_line = 'echo "path=$PATH"'  # fish joins PATH with colons inside quotes too
    type_line = "echo type=(type -t curl)" if shell == "fish" else 'echo "type=$(type curl | head -n 1)"'
    script = "\n".join([
        init_line(api_user, shell),
        init_line(api_user, shell),  # twice: still once on PATH
        path_line,
        type_line,
        curl_line(shell, url, "prompt"),
        script_line(shell, url),
    ])
    result = run_shell(api_user, shell, script)
    assert result.returncode == 0, result.stderr
    out = fields(result.stdout)
    entries = out["path"].split(":")
    assert entries[0] == wrappers and entries.count(wrappers) == 1, out["path"]
    assert "function" in out["type"], out
    assert out["prompt"] == "200", f"the wrapped curl did not reach the upstream with the secret:\n{result.stderr}"
    located, code = out["script"].split()
    assert located == wrappers + "/curl", "a script finds the wrapper first on PATH"
    assert code == "200", f"the script's curl did not go through keyhole:\n{result.stderr}"


def test_without_the_integration_curl_does_not_reach_the_test_host(api_user, upstream):
    """The control: plain curl cannot even resolve api.keyhole.test, so a 200 above means keyhole."""
    url = shlex.quote(upstream.url("/bearer/shell"))
    result = run_shell(api_user, "bash", f"curl -sS -o /dev/null -w '%{{http_code}}' {url}")
    assert result.returncode != 0 and result.stdout.strip() in ("", "000"), result


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_wrap_and_unwrap_take_effect_in_the_running_shell(api_user, shell):
    wrappers = str(api_user.data_dir / "bin")
    script = "\n".join([
        init_line(api_user, shell),
        'echo "before=$(command -v curl)"',
        "keyhole unwrap curl >/dev/null",
        'echo "after=$(command -v curl)"',
        'echo "function=$(type curl | head -n 1)"',
        "keyhole wrap curl >/dev/null",
        'echo "again=$(type curl | head -n 1)"',
    ])
    result = run_shell(api_user, shell, script)
    assert result.returncode == 0, result.stderr
    out = fields(result.stdout)
    assert out["before"] == "curl", "a function shadows the command"
    assert out["after"] == shutil.which("curl"), "unwrapped: the real curl, no function, no wrapper"
    assert "function" not in out["function"]
    assert "function" in out["again"]
    assert (Path(wrappers) / "curl").is_file()


# ---- no nested sessions


PROBE = """#!/bin/sh
echo "probe-session=${KEYHOLE_SESSION:-none}"
"$KH_BIN" status --json | sed -n 's/.*"sessions" *: *\\([0-9]*\\).*/probe-sessions=\\1/p'
"""


@pytest.fixture
def probe_user(user):
    """`khprobe` (in a directory of its own on PATH) is wrapped: it prints its session and the session count."""
    tools = user.scratch / "tools"
    tools.mkdir()
    probe = tools / "khprobe"
    probe.write_text(PROBE)
    probe.chmod(0o755)
    path = f"{user.data_dir / 'bin'}:{tools}:{user.env['PATH']}"
    user.env["KH_BIN"] = str(user.binary)
    user.ok("wrap", "khprobe", env={"PATH": path})
    return user, path


def probe_runs(text: str) -> list[tuple[str, int]]:
    sessions = re.findall(r"^probe-session=(.*)$", text, re.M)
    counts = [int(n) for n in re.findall(r"^probe-sessions=(\d+)$", text, re.M)]
    assert len(sessions) == len(counts), text
    return list(zip(sessions, counts))


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_a_wrapped_command_inside_keyhole_run_opens_no_second_session(probe_user, shell):
    user, path = probe_user
    binary = shlex.quote(str(user.binary))
    script = "\n".join([
        init_line(user, shell),
        "khprobe",  # the shell function: one session of its own
        "sh -c khprobe",  # the PATH wrapper: one session of its own
        f"{binary} run -- sh -c 'echo outer=$KEYHOLE_SESSION; khprobe'",  # inside run: the run's session
        f"{binary} run -- khprobe",  # run starts the wrapper itself: still the run's session
        "keyhole run -- sh -c 'echo outer2=$KEYHOLE_SESSION; sh -c khprobe'",
    ])
    result = run_shell(user, shell, script, path=path)
    assert result.returncode == 0, result.stderr
    runs = probe_runs(result.stdout)
    assert len(runs) == 5, result.stdout + result.stderr
    assert all(session != "none" for session, _ in runs), "every probe ran in a session"
    assert all(count == 1 for _, count in runs), f"one session at a time, never nested: {runs}"
    out = fields(result.stdout)
    assert runs[2][0] == out["outer"], "inside keyhole run the wrapper used the run's own session"
    assert runs[4][0] == out["outer2"]
    assert len({session for session, _ in runs}) == 5, "each top-level command had its own session"


def test_the_wrapper_runs_the_real_command_directly_inside_a_session(probe_user):
    user, path = probe_user
    result = user.cmd("run", "--", "sh", "-c", "khprobe; echo outer=$KEYHOLE_SESSION", env={"PATH": path})
    assert result.returncode == 0, result
    (session, count), = probe_runs(result.stdout)
    assert session == fields(result.stdout)["outer"] and count == 1


# ---- wrap / unwrap / --list


def test_wrap_refuses_keyhole_paths_and_unknown_commands(user):
    for name in ("keyhole", "git-credential-keyhole"):
        refused = user.cmd("wrap", name)
        assert refused.returncode == 1 and "keyhole's own command" in refused.stderr, refused
    path = user.cmd("wrap", "/usr/bin/curl")
    assert path.returncode == 1 and "a path" in path.stderr and "hint:" in path.stderr, path
    missing = user.cmd("wrap", "no-such-command-kh")
    assert missing.returncode == 1, missing
    assert "not on PATH" in missing.stderr and "--force" in missing.stderr, missing
    assert not (user.data_dir / "bin" / "no-such-command-kh").exists()
    assert json.loads(user.ok("wrap", "--list", "--json").stdout) == []


def test_wrap_force_list_json_and_a_wrapper_without_its_command(user):
    user.ok("wrap", "--force", "no-such-command-kh")
    user.ok("wrap", "curl", "curl")
    listing = json.loads(user.ok("wrap", "--list", "--json").stdout)
    by_name = {entry["name"]: entry for entry in listing}
    assert sorted(by_name) == ["curl", "no-such-command-kh"]
    assert by_name["curl"] == {
        "name": "curl", "wrapper": str(user.data_dir / "bin" / "curl"), "installed": True,
        "command": shutil.which("curl"),
    }
    assert by_name["no-such-command-kh"]["command"] is None
    table = user.ok("wrap", "--list").stdout
    assert "NAME" in table and "(not on PATH)" in table
    assert (user.config_dir / "wrapped").read_text().splitlines()[1:] == ["curl", "no-such-command-kh"]
    wrapper = user.data_dir / "bin" / "no-such-command-kh"
    ran = subprocess.run([str(wrapper)], env=user.env, capture_output=True, text=True)
    assert ran.returncode == 127 and "not on PATH" in ran.stderr and "keyhole unwrap" in ran.stderr, ran


def test_unwrap_removes_wrapper_and_name_and_refuses_unknown_names(user):
    user.ok("wrap", "curl", "git")
    unknown = user.cmd("unwrap", "curl", "never-wrapped")
    assert unknown.returncode == 1 and "not wrapped" in unknown.stderr and "wrap --list" in unknown.stderr
    assert (user.data_dir / "bin" / "curl").exists(), "nothing changes when one name is wrong"
    user.ok("unwrap", "curl")
    assert not (user.data_dir / "bin" / "curl").exists()
    assert [e["name"] for e in json.loads(user.ok("wrap", "--list", "--json").stdout)] == ["git"]
    user.ok("unwrap", "--all")
    assert json.loads(user.ok("wrap", "--list", "--json").stdout) == []
    assert "Nothing is wrapped" in user.ok("wrap", "--list").stdout
    assert user.cmd("unwrap").returncode != 0, "a name or --all is needed"


# ---- completions


@pytest.mark.parametrize("shell", SHELLS)
def test_an_interactive_shell_gets_keyholes_completions(user, shell):
    check = {
        "bash": f"{init_line(user, shell)}; complete -p keyhole",
        "zsh": f"autoload -Uz compinit; compinit -u -d {user.scratch}/zcompdump; {init_line(user, shell)}; "
               "print -r -- completion=$_comps[keyhole]",
        "fish": f"{init_line(user, shell)}; complete -c keyhole | string match -q '*shell-init*'; and echo found",
    }[shell]
    command = shell_command(shell, check)
    command.insert(-2, "-i")  # interactive: completions are only loaded there
    result = subprocess.run(command, env=user.env, capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL, cwd=str(user.scratch))
    expected = {"bash": "-F _keyhole keyhole", "zsh": "completion=_keyhole", "fish": "found"}[shell]
    assert expected in result.stdout, result.stdout + result.stderr
