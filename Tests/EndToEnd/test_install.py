"""`make install` / `make uninstall` into a temporary PREFIX, with the already built binary (KEYHOLE_BIN, no
release build): the files land where bash, zsh, fish, man and `systemd --user` look, git and registry clients
find the helpers by name on PATH, and uninstall takes everything away again."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness import random_secret

REPO = Path(__file__).resolve().parents[2]
API = "api.keyhole.test"
PLACEHOLDER = re.compile(r"khp_[0-9a-f]{40}")
HELPERS = ["git-credential-keyhole", "docker-credential-keyhole"]


def make(target: str, prefix: Path, binary: Path, env: dict[str, str], **extra: str):
    if shutil.which("make") is None:
        pytest.skip("make is not installed (Debian: apt-get install make; scripts/install-deps.sh --test)")
    args = ["make", "--no-print-directory", "-C", str(REPO), target, f"PREFIX={prefix}", f"KEYHOLE_BIN={binary}"]
    args += [f"{key}={value}" for key, value in extra.items()]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)


def installed_files(prefix: Path) -> set[str]:
    return {str(path.relative_to(prefix)) for path in prefix.rglob("*") if path.is_file() or path.is_symlink()}


@pytest.fixture
def prefix():
    directory = Path(tempfile.mkdtemp(prefix="khe2e-prefix-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


EXPECTED = {
    "bin/keyhole", "bin/git-credential-keyhole", "bin/docker-credential-keyhole",
    "share/keyhole/shell/keyhole.bash", "share/keyhole/shell/keyhole.zsh", "share/keyhole/shell/keyhole.fish",
    "share/bash-completion/completions/keyhole", "share/zsh/site-functions/_keyhole",
    "share/fish/vendor_completions.d/keyhole.fish", "share/man/man1/keyhole.1", "share/man/man1/keyhole-run.1",
    "share/man/man1/keyhole-wrap.1", "share/man/man1/keyhole-shell-init.1", "lib/systemd/user/keyhole.service",
}


def test_install_is_complete_idempotent_and_uninstall_removes_it(user, prefix):
    first = make("install", prefix, user.binary, user.env)
    assert first.returncode == 0, first.stdout + first.stderr
    before = installed_files(prefix)
    again = make("install", prefix, user.binary, user.env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert installed_files(prefix) == before, "a second install changes nothing"
    assert EXPECTED <= before, sorted(EXPECTED - before)

    binary = prefix / "bin" / "keyhole"
    assert os.access(binary, os.X_OK) and binary.read_bytes() == user.binary.read_bytes()
    for helper in HELPERS:
        assert os.readlink(prefix / "bin" / helper) == "keyhole", "a relative link to the binary"
    for shell in ("bash", "zsh", "fish"):
        installed = (prefix / "share/keyhole/shell" / f"keyhole.{shell}").read_text()
        assert installed == (REPO / "shell" / f"keyhole.{shell}").read_text()
    assert "complete" in (prefix / "share/bash-completion/completions/keyhole").read_text()
    assert (prefix / "share/zsh/site-functions/_keyhole").read_text().startswith("#compdef keyhole")
    assert "complete -c 'keyhole'" in (prefix / "share/fish/vendor_completions.d/keyhole.fish").read_text()

    unit = (prefix / "lib/systemd/user/keyhole.service").read_text()
    assert f"ExecStart={binary} daemon\n" in unit and "WantedBy=default.target" in unit
    assert "systemctl --user link" in first.stdout, "a prefix systemd does not read says how to use the unit"

    assert_man_pages(prefix, user.env)

    removed = make("uninstall", prefix, user.binary, user.env)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert installed_files(prefix) == set(), sorted(installed_files(prefix))
    assert not (prefix / "share/keyhole").exists()
    again = make("uninstall", prefix, user.binary, user.env)
    assert again.returncode == 0 and "removed 0 files" in again.stdout


def assert_man_pages(prefix: Path, env: dict[str, str]) -> None:
    pages = prefix / "share/man/man1"
    names = {page.name for page in pages.iterdir()}
    assert {"keyhole.1", "keyhole-run.1", "keyhole-wrap.1", "keyhole-unwrap.1", "keyhole-daemon.1"} <= names, names
    assert "keyhole-help.1" not in names
    wrap_page = (pages / "keyhole-wrap.1").read_text()
    assert "force" in wrap_page and "keyhole wrap gh curl" in wrap_page, "options and the help's examples"
    if shutil.which("man"):
        rendered = subprocess.run(["man", "-l", str(pages / "keyhole-run.1")], capture_output=True, text=True,
                                  env={**env, "MANPAGER": "cat", "MANWIDTH": "100"})
        assert rendered.returncode == 0 and "--only" in rendered.stdout, rendered.stderr
        assert "Limit the session to this credential" in rendered.stdout


@pytest.mark.parametrize("manual", ["plugin", "script"])
def test_man_pages_from_the_argument_parser_plugin_or_the_script(user, prefix, manual):
    """The plugin's generate-manual tool when swift can build it (auto), scripts/generate-manual.py otherwise."""
    result = make("install", prefix, user.binary, user.env, MANUAL=manual)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_man_pages(prefix, user.env)


def test_git_and_registry_clients_find_the_installed_helpers_on_path(user, prefix):
    assert make("install", prefix, user.binary, user.env).returncode == 0
    user.add("install-api", random_secret(), API, username="bot")
    bin_dir = prefix / "bin"
    script = (
        "command -v git-credential-keyhole; command -v docker-credential-keyhole; echo \"path=$PATH\"; "
        f"printf 'protocol=https\\nhost={API}\\n\\n' | git credential fill; echo ----; "
        f"echo {API} | docker-credential-keyhole get"
    )
    env = {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "GIT_TERMINAL_PROMPT": "0"}
    result = subprocess.run([str(bin_dir / "keyhole"), "run", "--", "sh", "-c", script],
                            env={**user.env, **env}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    git_part, docker_part = result.stdout.split("----\n")
    lines = git_part.splitlines()
    assert lines[0] == f"{bin_dir}/git-credential-keyhole", "git runs the installed helper"
    assert lines[1] == f"{bin_dir}/docker-credential-keyhole"
    assert "/sessions/" not in lines[2], "installed helpers: the session adds no directory of its own to PATH"
    answer = dict(line.split("=", 1) for line in lines[3:] if "=" in line)
    assert answer["username"] == "bot" and PLACEHOLDER.fullmatch(answer["password"]), git_part
    docker = json.loads(docker_part)
    assert docker["Username"] == "bot" and PLACEHOLDER.fullmatch(docker["Secret"]), docker_part


def test_a_home_prefix_puts_the_unit_where_systemd_user_looks(user):
    prefix = user.home / ".local"
    result = make("install", prefix, user.binary, user.env)
    assert result.returncode == 0, result.stdout + result.stderr
    unit = user.data_home / "systemd" / "user" / "keyhole.service"
    assert f"ExecStart={prefix}/bin/keyhole daemon" in unit.read_text()
    assert "systemctl --user enable --now keyhole" in result.stdout
    # The shell files share ~/.local/share/keyhole with keyhole's data: uninstall leaves that data alone.
    user.ok("wrap", "curl")
    user.status()
    removed = make("uninstall", prefix, user.binary, user.env)
    assert removed.returncode == 0, removed.stderr
    assert not unit.exists() and not (prefix / "bin" / "keyhole").exists()
    assert (user.data_dir / "ca.pem").exists() and (user.data_dir / "bin" / "curl").exists()
    assert "wrapped commands keep their wrappers" in removed.stdout


def test_install_explains_bad_settings(user, prefix):
    relative = make("install", Path("relative/prefix"), user.binary, user.env)
    assert relative.returncode != 0 and "absolute" in relative.stderr and "hint:" in relative.stderr
    missing = make("install", prefix, prefix / "no-binary", user.env)
    assert missing.returncode != 0 and "KEYHOLE_BIN" in missing.stderr and "hint:" in missing.stderr
    assert not (prefix / "bin").exists()
