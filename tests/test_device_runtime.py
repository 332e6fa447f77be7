"""The browser runtime: pinned files and hashes, the source chosen by configuration, the npm fetch."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from amnesia import AmnesiaError
from amnesia.device import runtime
from amnesia.device.runtime import CDN_BASE, LOCAL_DIR, RUNTIME_FILES, fetch_runtime, integrity, local_runtime_ready, runtime_config

FAKE = {"ort.wasm.bundle.min.mjs": b"export const x = 1;\n", "ort-wasm-simd-threaded.wasm": b"\x00asm\x01\x00\x00\x00"}


@pytest.fixture
def fake_pins(monkeypatch):
    """Pin two small fake files instead of the real runtime, so no test needs npm or the network."""
    monkeypatch.setattr(runtime, "RUNTIME_FILES", {name: integrity(data) for name, data in FAKE.items()})
    monkeypatch.setattr(runtime, "_verified", {})


def write(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_integrity_is_the_sri_sha384_of_the_bytes():
    assert integrity(b"") == "sha384-OLBgp1GsljhM2TJ+sbHjaiH9txEUvgdDTAzHv2P24donTt6/529l+9Ua0vFImLlb"


def test_the_pins_name_one_version_everywhere():
    assert set(RUNTIME_FILES) == {"ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm"}
    assert CDN_BASE == f"https://cdn.jsdelivr.net/npm/onnxruntime-web@{runtime.ORT_WEB_VERSION}/dist/"
    assert LOCAL_DIR.name == f"onnxruntime-web-{runtime.ORT_WEB_VERSION}"
    assert all(value.startswith("sha384-") for value in RUNTIME_FILES.values())


def test_by_default_nothing_loads_from_another_host(tmp_path, fake_pins, monkeypatch):
    """Offline first: with no setting the source is the local copy, even when it is missing (the page
    then says it is unavailable); the CDN only when the operator asks for it."""
    monkeypatch.delenv("AMNESIA_ORT_SOURCE", raising=False)
    folder = tmp_path / "rt"
    config = runtime_config(folder=folder)
    assert (config["source"], config["base"], config["local_present"]) == ("local", runtime.LOCAL_PATH, False)
    write(folder, FAKE)
    config = runtime_config(folder=folder)
    assert (config["source"], config["local_present"]) == ("local", True)


def test_auto_uses_the_local_copy_only_when_it_is_intact(tmp_path, fake_pins, monkeypatch):
    monkeypatch.setenv("AMNESIA_ORT_SOURCE", "auto")
    folder = tmp_path / "rt"
    assert runtime_config(folder=folder)["source"] == "cdn"
    write(folder, FAKE)
    config = runtime_config(folder=folder)
    assert config["source"] == "local" and config["base"] == runtime.LOCAL_PATH and config["local_present"]
    assert config["files"] == runtime.RUNTIME_FILES
    (folder / "ort.wasm.bundle.min.mjs").write_bytes(b"export const x = 2;\n")  # altered: never served
    assert not local_runtime_ready(folder)
    assert runtime_config(folder=folder)["source"] == "cdn"


def test_the_source_is_chosen_by_configuration(tmp_path, fake_pins, monkeypatch):
    folder = write(tmp_path / "rt", FAKE)
    monkeypatch.setenv("AMNESIA_ORT_SOURCE", "cdn")
    assert runtime_config(folder=folder)["base"] == CDN_BASE
    monkeypatch.setenv("AMNESIA_ORT_SOURCE", "LOCAL")
    assert runtime_config(folder=tmp_path / "missing")["source"] == "local"  # asked for: the page reports it missing
    monkeypatch.setenv("AMNESIA_ORT_SOURCE", "unpkg")
    with pytest.raises(AmnesiaError, match="AMNESIA_ORT_SOURCE must be one of auto, local, cdn; got 'unpkg'"):
        runtime_config(folder=folder)


def fake_npm(tmp_path: Path, files: dict[str, bytes]) -> Path:
    """An `npm` that packs `files` into onnxruntime-web-<v>.tgz in --pack-destination."""
    tarball = io.BytesIO()
    with tarfile.open(fileobj=tarball, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/dist/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    (tmp_path / "pack.tgz").write_bytes(tarball.getvalue())
    script = tmp_path / "npm"
    script.write_text(
        "#!/bin/sh\n"
        'while [ "$1" != "--pack-destination" ]; do shift; done\n'
        f'cp {tmp_path / "pack.tgz"} "$2/onnxruntime-web-{runtime.ORT_WEB_VERSION}.tgz"\n'
    )
    script.chmod(0o755)
    return script


def pin_tarball(tmp_path: Path, monkeypatch) -> None:
    packed = (tmp_path / "pack.tgz").read_bytes()
    monkeypatch.setattr(runtime, "TARBALL_INTEGRITY", "sha512-" + base64.b64encode(hashlib.sha512(packed).digest()).decode())


def test_fetch_checks_the_tarball_and_every_file_before_writing(tmp_path, fake_pins, monkeypatch):
    npm = fake_npm(tmp_path, FAKE)
    folder = tmp_path / "rt"
    with pytest.raises(AmnesiaError, match="tarball has integrity .* not the pinned"):
        fetch_runtime(folder, npm=str(npm))
    assert not folder.exists()
    pin_tarball(tmp_path, monkeypatch)
    assert fetch_runtime(folder, npm=str(npm)) == folder
    assert local_runtime_ready(folder)
    assert {path.name for path in folder.iterdir()} == set(FAKE)
    # idempotent: with the files in place npm is not even looked for
    assert fetch_runtime(folder, npm="no-such-npm") == folder


def test_fetch_refuses_a_file_that_differs_from_its_pin(tmp_path, fake_pins, monkeypatch):
    npm = fake_npm(tmp_path, {**FAKE, "ort-wasm-simd-threaded.wasm": b"\x00asm tampered"})
    pin_tarball(tmp_path, monkeypatch)
    with pytest.raises(AmnesiaError, match="does not match its pinned hash"):
        fetch_runtime(tmp_path / "rt", npm=str(npm))
    assert not (tmp_path / "rt").exists()


def test_fetch_without_npm_says_what_to_install(tmp_path, fake_pins):
    with pytest.raises(AmnesiaError, match="'no-such-npm' was not found; install Node.js and npm"):
        fetch_runtime(tmp_path / "rt", npm="no-such-npm")


def test_no_third_party_code_is_committed_in_the_component():
    root = Path(__file__).resolve().parents[1]
    tracked = subprocess.run(
        ["git", "ls-files", "amnesia/device/component"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    assert sorted(Path(path).name for path in tracked) == [".gitignore", "index.html", "private.css", "private.js"]
    assert "runtime/" in (root / "amnesia/device/component/.gitignore").read_text().split()


@pytest.mark.skipif(not LOCAL_DIR.exists() and not os.environ.get("CI"), reason=f"no local runtime; run {runtime.FETCH_COMMAND}")
def test_the_local_copy_fetched_from_npm_matches_the_pins():
    assert local_runtime_ready(), f"{LOCAL_DIR} is missing or altered; run {runtime.FETCH_COMMAND}"
