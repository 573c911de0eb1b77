from pathlib import Path

import pytest

from honed.meters.energy import RaplMeter, UnavailableMeter, meter_for


def _domain(root: Path, name: str, label: str, energy_uj: int, max_uj: int = 1_000_000) -> Path:
    path = root / name
    path.mkdir(parents=True)
    (path / "name").write_text(label + "\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return path


def test_rapl_sums_package_domains_and_handles_wraparound(tmp_path):
    pkg0 = _domain(tmp_path, "intel-rapl:0", "package-0", 900_000)
    pkg1 = _domain(tmp_path, "intel-rapl:1", "package-1", 100)
    _domain(tmp_path, "intel-rapl:0:0", "core", 5)  # a sub-domain: already inside package-0
    meter = RaplMeter(str(tmp_path))
    assert [Path(d).name for d in meter.domains] == ["intel-rapl:0", "intel-rapl:1"]
    with meter:
        (pkg0 / "energy_uj").write_text("200000\n")  # wrapped: 900000 -> 1000000 -> 200000 = 300000 uJ
        (pkg1 / "energy_uj").write_text("500100\n")  # +500000 uJ
    reading = meter.reading
    assert reading.status == "measured" and reading.source == "rapl"
    assert reading.joules == pytest.approx(0.8)


def test_idle_baseline_is_subtracted_only_where_measured(tmp_path):
    _domain(tmp_path, "intel-rapl:0", "package-0", 0)
    meter = RaplMeter(str(tmp_path))
    meter.measure_idle(0.05)  # counter does not move: 0 W idle
    with meter:
        (tmp_path / "intel-rapl:0" / "energy_uj").write_text("2000000\n")
    assert meter.reading.idle_watts == 0.0
    assert meter.reading.joules_above_idle == pytest.approx(2.0)


def test_without_a_sensor_the_reading_says_unavailable_and_why(tmp_path):
    meter = meter_for("cpu", rapl_root=str(tmp_path))
    assert isinstance(meter, UnavailableMeter)
    with meter:
        pass
    assert meter.reading.status == "unavailable" and meter.reading.joules is None
    assert "RAPL" in meter.reading.reason
