import json
from pathlib import Path

from honed.core.fingerprint import collect


def test_fingerprint_records_hardware_software_and_git():
    fp = collect()
    assert fp.cpu["model"] and fp.cpu["logical_cores"] >= 1 and isinstance(fp.cpu["flags"], list)
    assert fp.packages["torch"] and fp.packages["numpy"] and fp.python.count(".") == 2
    assert fp.memory_bytes > 0
    assert fp.gpus or fp.gpu_note  # either GPUs, or the reason there are none
    assert fp.git is None or len(fp.git["commit"]) == 40


def test_differences_name_the_key_fields():
    fp = collect()
    other = fp.model_copy(update={"cpu": {**fp.cpu, "model": "Other CPU"}, "hostname": "elsewhere"})
    assert fp.differences(other) == {"cpu.model": (fp.cpu["model"], "Other CPU")}  # hostname is not a key field


def test_the_cpu_is_asked_once_per_boot_and_then_read_from_the_cache(tmp_path, monkeypatch):
    import cpuinfo

    from honed.core import cpu_info

    monkeypatch.setenv("HONED_CACHE", str(tmp_path))
    first = cpu_info.cpu_info()
    answer = cpuinfo.get_cpu_info()
    assert first == {key: answer.get(key) for key in cpu_info.KEPT}
    [kept] = (tmp_path / "cpu").iterdir()
    assert Path(cpu_info.BOOT_ID).read_text().strip() in kept.name
    kept.write_text(json.dumps({**first, "brand_raw": "read from the cache"}))
    assert cpu_info.cpu_info()["brand_raw"] == "read from the cache"
    kept.write_text("{half writ")  # a process died while writing: py-cpuinfo is asked again
    assert cpu_info.cpu_info() == first and json.loads(kept.read_text()) == first
    monkeypatch.setattr(cpu_info, "BOOT_ID", tmp_path / "no-such-file")  # not Linux: asked each time
    assert cpu_info.cpu_info() == first
