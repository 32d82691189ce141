"""configs/acknowledgements.yaml: a reviewer's acknowledgement of one plan, reachable from a pull request.

A no-go plan that only needs an acknowledgement (a replacement, a deletion, a drift repair, an
interrupted load) can be acknowledged on the command line (`--allow-replace`, ...) or, from a pull
request, by an entry in this file: the environment, the plan's checksum as its comment shows it, what
is allowed and why. The file is the platform team's (CODEOWNERS), so an entry lands only with their
review. An entry applies to the plan it names and to nothing else: when the config or live state
changes, the plan's checksum changes and the entry is ignored (the plan says so).

Pure: parsing and checking only; the deployer applies the entries (deployer/acknowledgements.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from dmsctl.compiler.diagnostics import Diagnostic
from dmsctl.compiler.yamlsource import SourceDoc

FILE = "acknowledgements.yaml"
# What an entry may allow -> the command-line flag it stands for (the checks name the flag).
FLAGS = {"replace": "--allow-replace", "delete": "--allow-delete", "drift": "--allow-drift",
         "interrupt": "--allow-interrupt"}


@dataclass(frozen=True)
class FileAcknowledgement:
    env: str
    plan: str  # the plan checksum, or its first 12+ hex digits
    allow: tuple[str, ...]  # keys of FLAGS
    reason: str
    source: str  # "configs/acknowledgements.yaml:4"
    pull_request: int | None = None

    def names(self, checksum: str) -> bool:
        return checksum.startswith(self.plan)

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(FLAGS[a] for a in self.allow)


def entries(doc: SourceDoc, environments: tuple[str, ...],
            valid: bool = True) -> tuple[tuple[FileAcknowledgement, ...], list[Diagnostic]]:
    """The entries of the file (none unless it passed its schema: `valid`), and E240 for every entry naming
    an environment base.yaml does not define (a typo would be an acknowledgement that never applies)."""
    found: list[FileAcknowledgement] = []
    diags: list[Diagnostic] = []
    items = doc.data.get("acknowledgements") if isinstance(doc.data, dict) else None
    for i, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue
        env = item.get("env")
        if environments and isinstance(env, str) and env not in environments:
            diags.append(Diagnostic.at("E240", f"acknowledgement for environment '{env}', which base.yaml does "
                                       f"not define (environments: {', '.join(environments)})",
                                       doc.pos(("acknowledgements", i, "env"))))
            continue
        if valid:
            pos = doc.pos(("acknowledgements", i))
            found.append(FileAcknowledgement(env=item["env"], plan=item["plan"], allow=tuple(item["allow"]),
                                             reason=item["reason"], source=f"{pos.file}:{pos.line}",
                                             pull_request=item.get("pull_request")))
    return (tuple(found) if valid else ()), diags
