"""The operator's jobs, run from the shipped units against the deployed stack."""

from __future__ import annotations

import subprocess

from counsel.settings import PROJECT_ROOT
from tests.deployed.stack import Stack
from tests.deployed.units import Unit, shipped, unit


def test_the_checkpoint_timer_runs_its_service_which_writes_a_checkpoint_that_verify_reads(stack: Stack):
    timer = Unit.parse(shipped("systemd/counsel-audit-checkpoint.timer"))
    service = unit(timer.value("Timer", "Unit"), stack.placement())
    assert service.value("Service", "Type") == "oneshot"
    before = stack.checkpoint_file.read_text(encoding="utf-8").splitlines() if stack.checkpoint_file.exists() else []
    done = subprocess.run(service.command(), env=stack.process_environment(service.environment()),  # noqa: S603
                          cwd=service.value("Service", "WorkingDirectory"), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert str(stack.checkpoint_file) in done.stdout  # the file audit_checkpoint_file names, as placed
    after = stack.checkpoint_file.read_text(encoding="utf-8").splitlines()
    assert len(after) == len(before) + 1
    assert "Audit chain intact" in stack.cli("audit", "verify")
    assert service.value("Service", "WorkingDirectory") == str(PROJECT_ROOT)
