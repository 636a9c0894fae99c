"""Read the shipped deployment files (config/) as the deployed test runs them.

The test never writes its own nginx site, unit or settings file: it takes the shipped one and
replaces the installation-specific words (paths, ports, host name) listed in `Placement`. Each
replacement must find its word, so a config file that drifts from what the test understands
fails the test instead of silently running something else.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from counsel.settings import CONFIG_DIR


@dataclass(frozen=True)
class Placement:
    """Where the shipped files' installation paths and names are put on this test machine."""

    replacements: dict[str, str]

    def apply(self, text: str, required: tuple[str, ...] = ()) -> str:
        """Replace every known word; each word in `required` must occur at least once."""
        for word in required:
            assert word in text, f"the shipped file no longer contains {word!r}"
        for old, new in self.replacements.items():
            text = text.replace(old, new)
        return text


@dataclass
class Unit:
    """The lines of a systemd unit file that say what runs and with which environment."""

    sections: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Unit:
        unit = cls()
        current = ""
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                current = line[1:-1]
                unit.sections.setdefault(current, [])
                continue
            key, _, value = line.partition("=")
            unit.sections.setdefault(current, []).append((key.strip(), value.strip()))
        return unit

    def values(self, section: str, key: str) -> list[str]:
        return [value for name, value in self.sections.get(section, []) if name == key]

    def value(self, section: str, key: str) -> str:
        found = self.values(section, key)
        assert len(found) == 1, f"[{section}] {key}= appears {len(found)} times"
        return found[0]

    def assignments(self) -> dict[str, str]:
        """What the unit's own Environment= lines set."""
        env: dict[str, str] = {}
        for line in self.values("Service", "Environment"):
            for assignment in shlex.split(line):
                key, _, value = assignment.partition("=")
                env[key] = value
        return env

    def environment(self) -> dict[str, str]:
        """EnvironmentFile= first, then Environment= lines, as systemd applies them."""
        env: dict[str, str] = {}
        for path in self.values("Service", "EnvironmentFile"):
            env.update(read_env_file(Path(path.removeprefix("-"))))
        return env | self.assignments()

    def command(self) -> list[str]:
        return shlex.split(self.value("Service", "ExecStart"))


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines, comments and blank lines skipped (the subset of systemd's syntax we ship)."""
    env: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def shipped(name: str) -> str:
    return (CONFIG_DIR / name).read_text(encoding="utf-8")


def unit(name: str, placement: Placement, instance: str = "") -> Unit:
    """A unit from config/systemd/, placed, with the template's %i filled in."""
    text = placement.apply(shipped(f"systemd/{name}"), required=("/opt/counsel",))
    return Unit.parse(text.replace("%i", instance))
