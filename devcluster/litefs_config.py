"""litefs.yml as LiteFS 0.5 reads it on a machine, so the emulated nodes boot as Fly's do.

LiteFS expands `${VAR}` and `${A == B}` / `${A != B}` (comparing two variables) from the
machine's environment before parsing the YAML; `lease.candidate` and `lease.promote` decide
whether a booting node takes the lease, and `exec` lists what it then runs, in order.
"""

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

LITEFS_YML = Path(__file__).resolve().parents[1] / "litefs.yml"


def expand_like_litefs(text: str, env: dict[str, str]) -> str:
    """LiteFS's ExpandEnv: ${VAR}, and ${A == B} / ${A != B} comparing two variables."""

    def replace(match):
        expression = match.group(1).strip()
        comparison = re.fullmatch(r"(\w+)\s*(==|!=)\s*(\w+)", expression)
        if comparison:
            left, op, right = comparison.groups()
            equal = env.get(left, "") == env.get(right, "")
            return str(equal if op == "==" else not equal).lower()
        return env.get(expression, "")

    return re.sub(r"\$\{([^}]*)\}", replace, text)


def load(env: dict[str, str], path: Path = LITEFS_YML) -> dict:
    """The configuration a machine with environment `env` reads."""
    return yaml.safe_load(expand_like_litefs(Path(path).read_text(), env))


@dataclass(frozen=True)
class ExecCommand:
    """One `exec` entry: a command line, and whether only candidates run it."""

    cmd: str
    if_candidate: bool = False

    def argv(self) -> list[str]:
        """The command for this machine: `python` and `gunicorn` from this interpreter."""
        words = shlex.split(self.cmd)
        if words[0] == "python":
            return [sys.executable, *words[1:]]
        if words[0] == "gunicorn":
            return [sys.executable, "-m", "gunicorn", *words[1:]]
        return words


def exec_commands(config: dict) -> list[ExecCommand]:
    entries = config.get("exec") or []
    if isinstance(entries, str):  # the single-command form, `exec: "cmd"`
        entries = [{"cmd": entries}]
    return [ExecCommand(e["cmd"], bool(e.get("if-candidate", False))) for e in entries]
