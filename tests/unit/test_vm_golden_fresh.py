"""The golden VM clusters on a machine where nothing of the VM is built yet.

`scripts/bootstrap --with-vm` (the first command of docs/vm.md) failed at
once on such a machine: ``Golden.build`` asked ``exists()``, whose key needs
the accelerator, whose probe stats the VM image's kernel before the image had
been built (``FileNotFoundError: …/vmlinuz``). Here the VM cache is an empty
folder, as on a fresh machine; the image build and the golden builder are
stand-ins that record the order of events (they take 13+ minutes for real).
"""

from __future__ import annotations

from sandbox.vm import golden as golden_mod
from sandbox.vm.golden import Golden
from sandbox.vm.image import VMImage


def test_nothing_built_is_not_an_error(tmp_path):
    g = Golden(image=VMImage(root=tmp_path), root=tmp_path)
    assert g.exists() is False
    status = g.status()
    assert status["built"] is False and status["accel"]["accel"] == "unknown"
    assert "not built" in status["accel"]["reason"]


def test_build_makes_the_image_before_it_probes_the_accelerator(tmp_path, monkeypatch):
    image = VMImage(root=tmp_path)
    events = []

    def build_image(progress=lambda s: None, force=False):
        events.append("image")
        image.dir.mkdir(parents=True)
        image.kernel.write_bytes(b"kernel")
        image.initrd.write_bytes(b"initrd")
        image.manifest.write_text("{}")
        return image.dir

    def probe(kernel, initrd, cache, timeout=20):
        assert kernel.is_file(), "the accelerator was probed before the image's kernel existed"
        events.append("probe")
        return {"accel": "tcg", "reason": "test"}

    class Builder:
        def __init__(self, golden, progress):
            events.append(f"golden with {golden.accel}")

        def run(self):
            pass

        def cleanup(self):
            pass

    monkeypatch.setattr(image, "build", build_image)
    monkeypatch.setattr(golden_mod, "detect_accel", probe)
    monkeypatch.setattr(golden_mod, "QEMU", "true")  # installed, wherever this runs
    monkeypatch.setattr("sandbox.vm.build.Builder", Builder)
    Golden(image=image, root=tmp_path).build()
    assert events[0] == "image" and "golden with tcg" in events, events


def test_no_qemu_is_not_an_error(tmp_path, monkeypatch):
    """`pytest -m e2e` errored on the vm variant where QEMU is not installed."""
    image = VMImage(root=tmp_path)
    image.dir.mkdir(parents=True)
    for f in (image.kernel, image.initrd, image.manifest):
        f.write_text("{}")
    monkeypatch.setattr(golden_mod, "QEMU", str(tmp_path / "no-such-qemu"))
    g = Golden(image=image, root=tmp_path)
    assert g.exists() is False
    assert "is not installed" in g.status()["accel"]["reason"]
