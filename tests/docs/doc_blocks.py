"""The ```bash blocks of a Markdown file, cut into the commands a reader would type, and
turned into bash scripts that run them with ``set -e -o pipefail``.

A *command* is one logical shell line: physical lines are joined while a quote is open
(multi-line JSON bodies), a line ends with a backslash, or a line ends with ``|``, ``&&``
or ``||``. Comment lines (``# …``) between commands are kept with the command before
them: ``# → …`` comments show what the command answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass
class Command:
    line: int                      # 1-based line in the Markdown file
    text: str                      # the command as written (lines joined with \n)
    comments: list[str] = field(default_factory=list)   # trailing and following comments

    @property
    def first_line(self) -> str:
        return self.text.splitlines()[0].strip()

    def expected_status(self) -> int | None:
        """The HTTP error status its ``# → 4xx``/``5xx`` comment says it answers."""
        for comment in self.comments:
            match = re.search(r"→\s*([45]\d\d)\b", comment)
            if match:
                return int(match.group(1))
        return None


@dataclass
class Block:
    path: str                      # as given (relative to the repository)
    line: int                      # line of the opening fence
    text: str
    commands: list[Command]

    @property
    def name(self) -> str:
        return f"{self.path}:{self.line}"


def bash_blocks(path: Path, name: str) -> list[Block]:
    """Every ```bash block of ``path``, in order."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        start, language = index, match.group(1)
        index += 1
        body: list[str] = []
        while index < len(lines) and not lines[index].startswith("```"):
            body.append(lines[index])
            index += 1
        index += 1
        if language == "bash":
            blocks.append(Block(name, start + 1, "\n".join(body), split(body, start + 2)))
    return blocks


def _scan(line: str, quote: str | None) -> tuple[str | None, str, str]:
    """Follow quotes through ``line``: (open quote at its end, code, trailing comment)."""
    i = 0
    while i < len(line):
        ch = line[i]
        if quote == "'":
            if ch == "'":
                quote = None
        elif quote == '"':
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "\\":
            i += 1
        elif ch == "#" and (i == 0 or line[i - 1] in " \t;"):
            return quote, line[:i], line[i:]
        i += 1
    return quote, line, ""


def split(lines: list[str], first_line: int) -> list[Command]:
    """Cut a block's lines into commands (see the module docstring)."""
    commands: list[Command] = []
    current: list[str] = []
    start = 0
    quote: str | None = None
    for offset, raw in enumerate(lines):
        if not current and not raw.strip():
            continue
        if not current and raw.lstrip().startswith("#"):
            if commands:
                commands[-1].comments.append(raw.strip())
            continue
        if not current:
            start = first_line + offset
        current.append(raw)
        quote, code, comment = _scan(raw, quote)
        if quote is not None:
            continue
        code = code.rstrip()
        if code.endswith("\\") or code.endswith("|") or code.endswith("&&") \
                or code.endswith("||"):
            continue
        cmd = Command(start, "\n".join(current))
        if comment:
            cmd.comments.append(comment.strip())
        commands.append(cmd)
        current = []
    if current:
        raise ValueError(f"line {start}: unterminated command (an open quote?): "
                         + "\n".join(current))
    return commands


# -- the script -------------------------------------------------------------------------

MARK = "__OBSS_CMD__"

#: Defined before every block: curl fails on an HTTP error (printing the body) unless the
#: doc shows that error (OBSS_EXPECT_STATUS); the state of the previous blocks (variables,
#: functions: one terminal session per document) is read, and saved again at the end.
PRELUDE = r"""set -e -o pipefail
__obss_baseline=" $(compgen -v | tr '\n' ' ') "
curl() {
  if [ -n "${OBSS_EXPECT_STATUS:-}" ]; then
    local __obss_out __obss_code
    __obss_out=$(command curl -w '\n__OBSS_STATUS__%{http_code}' "$@") || true
    __obss_code=${__obss_out##*__OBSS_STATUS__}
    printf '%s\n' "${__obss_out%__OBSS_STATUS__*}"
    if [ "$__obss_code" != "$OBSS_EXPECT_STATUS" ]; then
      echo "expected HTTP $OBSS_EXPECT_STATUS, got $__obss_code" >&2
      return 1
    fi
  else
    command curl --fail-with-body "$@"
  fi
}
__obss_mark() { printf '\n%s %s\n' "__OBSS_CMD__" "$1"; }
__obss_save() {
  local __obss_rc=$? __obss_v __obss_f
  {
    for __obss_v in $(compgen -v); do
      case "$__obss_v" in
        __obss*|BASH*|FUNCNAME|PIPESTATUS|_|OPTARG|OPTIND|COMP*) continue ;;
      esac
      case "$__obss_baseline" in *" $__obss_v "*) continue ;; esac
      declare -p "$__obss_v"
    done
    for __obss_f in $(compgen -A function); do
      case "$__obss_f" in __obss*|curl) continue ;; esac
      declare -f "$__obss_f"
    done
  } > "$OBSS_STATE.new" && mv "$OBSS_STATE.new" "$OBSS_STATE"
  exit "$__obss_rc"
}
trap __obss_save EXIT
[ -f "$OBSS_STATE" ] && source "$OBSS_STATE"
"""


def script(commands: list[tuple[Command, str | None]]) -> str:
    """The bash script of a block: each command (as rewritten; ``None``: skipped) after a
    marker line, so that its output can be told apart."""
    parts = [PRELUDE]
    for n, (cmd, text) in enumerate(commands):
        parts.append(f"__obss_mark {n}")
        if text is None:
            continue
        status = cmd.expected_status()
        parts.append(f"OBSS_EXPECT_STATUS={status} {text}" if status else text)
    return "\n".join(parts) + "\n"


def outputs(output: str, count: int) -> list[str | None]:
    """The output of each command (``None``: not reached), from the marker lines."""
    found: list[str | None] = [None] * count
    current: int | None = None
    chunks: dict[int, list[str]] = {}
    for line in output.splitlines():
        if line.startswith(MARK + " "):
            current = int(line.split()[1])
            chunks.setdefault(current, [])
            continue
        if current is not None:
            chunks[current].append(line)
    for n, lines in chunks.items():
        found[n] = "\n".join(lines).strip()
    return found


def last_reached(output: str) -> int | None:
    marks = [int(line.split()[1]) for line in output.splitlines()
             if line.startswith(MARK + " ")]
    return marks[-1] if marks else None
