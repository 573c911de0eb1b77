"""honed's processes send nothing: OpenVINO's converter and NNCF fall back to their no-op
telemetry stubs (their real telemetry forked a child that hung a worker in a DNS lookup)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("openvino")
pytest.importorskip("nncf")


def test_openvino_and_nncf_telemetry_are_their_stubs_in_a_honed_process():
    probe = (
        "import honed\n"
        "from openvino.tools.ovc import telemetry_utils\n"
        "import nncf.telemetry.wrapper as wrapper\n"
        "print(telemetry_utils.tm.__name__, type(wrapper.telemetry).__name__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NNCF_CI", "NNCF_DEV")}  # as a user runs it
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    converter, nncf_telemetry = done.stdout.split()
    assert converter == "openvino.tools.ovc.telemetry_stub" and nncf_telemetry != "NNCFTelemetry"
