"""``wasmhub deploy ... -o DIR``: the rendered resources as files, plus ``kustomization.yaml``.

One file per resource (the provider names it), and for Kubernetes resources a
``kustomization.yaml`` listing them, so ``kubectl apply -k DIR`` / Argo CD / Flux apply
the same set ``kubectl kustomize DIR`` renders. Nothing is overwritten without
``force``: every target is checked first, so a refusal leaves the directory untouched;
each file is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from wasmhub.deploy.provider import Rendering
from wasmhub.errors import ConflictError, InputError

KUSTOMIZATION = "kustomization.yaml"


def kustomization(files: list[str]) -> str:
    return yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1",
                           "kind": "Kustomization", "resources": files}, sort_keys=False)


def planned_files(rendering: Rendering) -> dict[str, str]:
    files = {r.filename: r.yaml() for r in rendering.resources}
    kube = [r.filename for r in rendering.resources if r.is_kubernetes]
    if kube:
        files[KUSTOMIZATION] = kustomization(kube)
    return files


def _write(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_dir(rendering: Rendering, directory: Path, *, force: bool = False) -> list[Path]:
    """Write the files; returns their paths. Refuses before writing when one exists."""
    if directory.exists() and not directory.is_dir():
        raise InputError(f"-o {directory}: exists and is not a directory")
    files = planned_files(rendering)
    existing = [name for name in files if (directory / name).exists()]
    if existing and not force:
        raise ConflictError(f"-o {directory}: would overwrite {', '.join(existing)}; "
                            "nothing was written (--force to replace)")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        _write(directory / name, text)
        written.append(directory / name)
    return written
