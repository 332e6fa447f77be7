"""Where the browser gets ONNX Runtime Web from: a pinned npm version, two files, their hashes.

The project commits no third-party JavaScript or WebAssembly. The private-recommendations
component loads exactly two files of the ``onnxruntime-web`` npm package, version
:data:`ORT_WEB_VERSION`:

- ``ort.wasm.bundle.min.mjs``: the runtime's JavaScript (WebAssembly backend only, with the
  Emscripten loader bundled in), imported as an ES module;
- ``ort-wasm-simd-threaded.wasm``: the compiled runtime, handed to it as bytes.

Both are fetched with their subresource-integrity hash (:data:`RUNTIME_FILES`), so a copy that
differs by one byte is refused, wherever it comes from. Two sources, chosen by the environment
variable ``AMNESIA_ORT_SOURCE``:

- ``cdn``: the public jsDelivr copy of that exact npm version (for people online);
- ``local``: a copy fetched from the npm registry into a git-ignored folder that the component
  serves (for offline machines and the tests): ``python -m amnesia.device.runtime``;
- ``auto`` (default): ``local`` when the local copy is present and intact, else ``cdn``.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from ..errors import AmnesiaError

ORT_WEB_VERSION = "1.30.0"
#: sha512 of the npm tarball, as the registry publishes it (``npm view onnxruntime-web@1.30.0 dist.integrity``).
TARBALL_INTEGRITY = "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ=="
#: The files the component loads, with their subresource-integrity hashes (sha384 of the npm files).
RUNTIME_FILES = {
    "ort.wasm.bundle.min.mjs": "sha384-PLWz+nHEVHpjwBsO0YVdvQj6n5814Iv8E3b8FG0Rp/uIAtjFMCKOpP66iPzedrIG",
    "ort-wasm-simd-threaded.wasm": "sha384-vjBJ1z7qrhkTyYsNqKeF6c7N+nOJSU94czEo+tvZcu8G75JparGq9kB+kTnEUNVM",
}
CDN_BASE = f"https://cdn.jsdelivr.net/npm/onnxruntime-web@{ORT_WEB_VERSION}/dist/"
COMPONENT_DIR = Path(__file__).resolve().parent / "component"
#: Relative to the component folder (the component serves it); git-ignored.
LOCAL_PATH = f"runtime/onnxruntime-web-{ORT_WEB_VERSION}/"
LOCAL_DIR = COMPONENT_DIR / LOCAL_PATH
SOURCES = ("auto", "local", "cdn")
#: Offline first: the CDN is used only when the operator sets AMNESIA_ORT_SOURCE=cdn or auto.
DEFAULT_SOURCE = "local"
FETCH_COMMAND = "python -m amnesia.device.runtime"

_verified: dict[tuple[str, int, int], bool] = {}  # (path, size, mtime) -> hash matched


def integrity(data: bytes) -> str:
    """The subresource-integrity string (sha384, base64) of ``data``."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def local_runtime_ready(folder: Path = LOCAL_DIR) -> bool:
    """True when every runtime file is in ``folder`` with its pinned hash (checked once per file version)."""
    for name, expected in RUNTIME_FILES.items():
        path = folder / name
        try:
            stat = path.stat()
        except OSError:
            return False
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in _verified:
            _verified[key] = integrity(path.read_bytes()) == expected
        if not _verified[key]:
            return False
    return True


@functools.cache
def warmup_model() -> str:
    """A one-node ONNX model (Identity on a float), base64: creating a session from it starts the
    browser's WebAssembly runtime before the visitor's model arrives."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "warmup",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return base64.b64encode(model.SerializeToString()).decode()


def runtime_config(source: str | None = None, folder: Path = LOCAL_DIR) -> dict[str, Any]:
    """What the component needs to load the runtime: the chosen source, the base URL of the files
    (relative to the component for ``local``), their integrity hashes and the version.

    ``source`` defaults to ``$AMNESIA_ORT_SOURCE`` or ``local``: nothing loads from another host
    unless the operator asks for it (``cdn``, or ``auto``: the local copy when it is intact, else the
    CDN). With ``local`` and no intact copy, ``local_present`` is False and the page says it is
    unavailable offline instead of fetching anything. An unknown value raises an
    :class:`AmnesiaError` naming the allowed ones.
    """
    chosen = (source or os.environ.get("AMNESIA_ORT_SOURCE") or DEFAULT_SOURCE).strip().lower()
    if chosen not in SOURCES:
        raise AmnesiaError(f"AMNESIA_ORT_SOURCE must be one of {', '.join(SOURCES)}; got {chosen!r}.")
    local_ok = local_runtime_ready(folder)
    if chosen == "auto":
        chosen = "local" if local_ok else "cdn"
    return {
        "source": chosen,
        "base": LOCAL_PATH if chosen == "local" else CDN_BASE,
        "files": dict(RUNTIME_FILES),
        "version": ORT_WEB_VERSION,
        "local_present": local_ok,
        "fetch_command": FETCH_COMMAND,
        "warmup": warmup_model(),
    }


def fetch_runtime(folder: Path = LOCAL_DIR, npm: str = "npm") -> Path:
    """Put the pinned runtime files into ``folder`` from the npm registry (``npm pack``).

    Idempotent: does nothing when the files are already there with their hashes. The tarball
    and each file are checked against the pinned hashes before anything is written; a mismatch
    raises and leaves ``folder`` as it was.
    """
    if local_runtime_ready(folder):
        return folder
    if shutil.which(npm) is None:
        raise AmnesiaError(f"'{npm}' was not found; install Node.js and npm (apt-get install npm), then run {FETCH_COMMAND}.")
    with tempfile.TemporaryDirectory() as scratch:
        spec = f"onnxruntime-web@{ORT_WEB_VERSION}"
        done = subprocess.run(
            [npm, "pack", spec, "--pack-destination", scratch, "--silent"],
            capture_output=True, text=True, check=False, timeout=600,
        )
        tarballs = list(Path(scratch).glob("onnxruntime-web-*.tgz"))
        if done.returncode != 0 or len(tarballs) != 1:
            raise AmnesiaError(f"npm pack {spec} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        data = tarballs[0].read_bytes()
        found = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        if found != TARBALL_INTEGRITY:
            raise AmnesiaError(f"The downloaded {spec} tarball has integrity {found}, not the pinned {TARBALL_INTEGRITY}.")
        contents: dict[str, bytes] = {}
        with tarfile.open(tarballs[0], "r:gz") as archive:
            for name, expected in RUNTIME_FILES.items():
                member = archive.extractfile(f"package/dist/{name}")
                if member is None:
                    raise AmnesiaError(f"{spec} has no dist/{name}.")
                contents[name] = member.read()
                if integrity(contents[name]) != expected:
                    raise AmnesiaError(f"dist/{name} of {spec} does not match its pinned hash {expected}.")
        folder.mkdir(parents=True, exist_ok=True)
        for name, payload in contents.items():
            partial = folder / (name + ".part")
            partial.write_bytes(payload)
            partial.replace(folder / name)  # atomic: a half-written file is never served
    return folder


def main(argv: list[str] | None = None) -> int:
    """``python -m amnesia.device.runtime [--check]``: fetch (or only check) the local runtime copy."""
    parser = argparse.ArgumentParser(
        prog=FETCH_COMMAND, description=f"Fetch onnxruntime-web {ORT_WEB_VERSION} from npm for offline use."
    )
    parser.add_argument("--check", action="store_true", help="only report whether the local copy is present and intact")
    args = parser.parse_args(argv)
    if args.check:
        ready = local_runtime_ready()
        print(f"onnxruntime-web {ORT_WEB_VERSION} in {LOCAL_DIR}: {'ready' if ready else 'missing or altered'}")
        return 0 if ready else 1
    try:
        folder = fetch_runtime()
    except AmnesiaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"onnxruntime-web {ORT_WEB_VERSION} is ready in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
