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
