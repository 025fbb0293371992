#!/usr/bin/env python3
"""Writes keyhole's man pages from its command definitions: `keyhole --experimental-dump-help` (the JSON that
swift-argument-parser's generate-manual plugin reads) turned into man(7) pages, keyhole.1 plus one per subcommand
(keyhole-run.1, ...). Used by scripts/install.sh; it needs only the built binary and python3, so it works for an
already built binary and offline.

    python3 scripts/generate-manual.py path/to/keyhole OUTPUT_DIRECTORY
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

SECTION = "1"


def escape(text: str) -> str:
    """Text for a roff line: backslashes and a leading dot or quote made literal."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def bold(text: str) -> str:
    return "\\fB" + escape(text) + "\\fR"


def italic(text: str) -> str:
    return "\\fI" + escape(text) + "\\fR"


def paragraphs(text: str) -> list[str]:
    """Discussion text as roff: plain lines joined into paragraphs, indented lines (examples) kept as they are."""
    out: list[str] = []
    literal = False
    start = True
    for line in (text or "").strip("\n").split("\n"):
        if not line.strip():
            if literal:
                out += [".fi", ".RE"]
                literal = False
            start = True
            continue
        if line.startswith((" ", "\t")):
            if not literal:
                out += [".RS 4", ".nf"]
                literal = True
            out.append(escape(line.strip("\n")[2:] if line.startswith("  ") else line))
            continue
        if literal:
            out += [".fi", ".RE"]
            literal = False
            start = True
        if start:
            out.append(".PP")
            start = False
        out.append(escape(line))
    if literal:
        out += [".fi", ".RE"]
    return out


def option_label(argument: dict) -> str:
    names = argument.get("names") or []
    labels = []
    for name in names:
        prefix = {"long": "--", "short": "-", "longWithSingleDash": "-"}.get(name.get("kind"), "--")
        labels.append(bold(prefix + name["name"]))
    label = ", ".join(labels)
    if argument.get("kind") == "option":
        label += " " + italic("<" + argument.get("valueName", "value") + ">")
    if argument.get("kind") == "positional":
        label = italic("<" + argument.get("valueName", "value") + ">")
        if argument.get("isRepeating"):
            label += "..."
    return label


def synopsis_item(argument: dict) -> str:
    if argument.get("kind") == "positional":
        item = "<" + argument.get("valueName", "value") + ">"
        if argument.get("isRepeating"):
            item += "..."
    else:
        preferred = argument.get("preferredName") or (argument.get("names") or [{"kind": "long", "name": "?"}])[0]
        prefix = "-" if preferred.get("kind") in ("short", "longWithSingleDash") else "--"
        item = prefix + preferred["name"]
        if argument.get("kind") == "option":
            item += " <" + argument.get("valueName", "value") + ">"
    if argument.get("isOptional"):
        item = "[" + item + "]"
    return item


def visible(items: list[dict] | None) -> list[dict]:
    return [item for item in items or [] if item.get("shouldDisplay", True) and item.get("commandName") != "help"]


def render(command: dict, path: list[str], date: str, version: str) -> str:
    full = " ".join(path)
    title = "-".join(path).upper()
    lines = [
        f'.TH "{title}" "{SECTION}" "{date}" "keyhole {version}" "User Commands"',
        ".SH NAME",
        f"{escape('-'.join(path))} \\- {escape(command.get('abstract', ''))}",
        ".SH SYNOPSIS",
    ]
    arguments = visible(command.get("arguments"))
    subcommands = visible(command.get("subcommands"))
    synopsis = [bold(full)] + [escape(synopsis_item(a)) for a in arguments]
    if subcommands:
        synopsis.append(italic("<subcommand>"))
    lines.append(".nh")
    lines.append(" ".join(synopsis))
    lines.append(".hy")
    description = paragraphs(command.get("discussion", ""))
    if command.get("abstract") or description:
        lines.append(".SH DESCRIPTION")
        lines.append(escape(command.get("abstract", "")))
        lines += description
    if arguments:
        lines.append(".SH OPTIONS")
        for argument in arguments:
            lines.append(".TP")
            lines.append(option_label(argument))
            help_text = argument.get("abstract", "")
            default = argument.get("defaultValue")
            if default not in (None, "", "false") and argument.get("kind") != "flag":
                help_text += f" (default: {default})"
            lines.append(escape(help_text))
            values = argument.get("allValueStrings") or argument.get("allValues")
            if values and argument.get("kind") != "flag":
                lines.append("Values: " + escape(", ".join(values)) + ".")
            discussion = argument.get("discussion")
            if isinstance(discussion, str) and discussion:
                lines += paragraphs(discussion)
    if subcommands:
        lines.append(".SH COMMANDS")
        for sub in subcommands:
            lines.append(".TP")
            lines.append(bold(sub["commandName"]))
            page = escape("-".join(path + [sub["commandName"]]))
            lines.append(escape(sub.get("abstract", "")) + f" See \\fB{page}\\fR({SECTION}).")
    lines.append(".SH SEE ALSO")
    if len(path) > 1:
        lines.append(f"\\fB{escape('-'.join(path[:-1]))}\\fR({SECTION})")
    else:
        related = [f"\\fB{escape('keyhole-' + sub['commandName'])}\\fR({SECTION})" for sub in subcommands]
        lines.append(",\n".join(related))
    return "\n".join(lines) + "\n"


def walk(command: dict, path: list[str], out_dir: str, date: str, version: str) -> list[str]:
    written = []
    name = "-".join(path) + "." + SECTION
    with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
        f.write(render(command, path, date, version))
    written.append(name)
    for sub in visible(command.get("subcommands")):
        written += walk(sub, path + [sub["commandName"]], out_dir, date, version)
    return written


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary, out_dir = sys.argv[1], sys.argv[2]
    try:
        dump = subprocess.run([binary, "--experimental-dump-help"], check=True, capture_output=True, text=True)
        info = json.loads(dump.stdout)
        version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip() or "?"
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError) as error:
        print(f"keyhole: error: could not read the command definitions from {binary}: {error}", file=sys.stderr)
        print("  hint: build keyhole first (swift build) and pass the binary's path", file=sys.stderr)
        return 1
    if info.get("serializationVersion") != 0:
        print(f"keyhole: error: unknown --experimental-dump-help version {info.get('serializationVersion')}",
              file=sys.stderr)
        print("  hint: update scripts/generate-manual.py for the new swift-argument-parser", file=sys.stderr)
        return 1
    # A reproducible date: SOURCE_DATE_EPOCH when set (packagers), else today.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch else datetime.datetime.now()
    os.makedirs(out_dir, exist_ok=True)
    command = info["command"]
    walk(command, [command.get("commandName", "keyhole")], out_dir, when.strftime("%Y-%m-%d"), version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
