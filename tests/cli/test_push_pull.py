"""push/pull/tag/inspect round trips through the real CNCF registry, every image layout."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.cli.helpers import one_line_error, run, run_json
from tests.client.fixtures import proxy_wasm_module
from tests.client.test_registry import push_simple
from tests.support.servers import RunningServer, free_port, wasmhub_command
from wasmhub.client.registry import RegistryClient

pytestmark = pytest.mark.interop

PLUGIN_YAML = """\
apiVersion: wasmhub.dev/v1
kind: Plugin
metadata:
  name: hello
  version: 1.2.3
  displayName: {en: Hello, zh: 你好}
  description: {en: Says hello., zh: 打招呼。}
  category: traffic
  license: Apache-2.0
  icon: icon.png
spec:
  rootId: hello_root
  filterType: http
"""
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5c9e5e0"
                    "0000000049454e44ae426082")


def ref(registry: RunningServer, tag: str = "v1") -> str:
    return f"{registry.host}/cli/{uuid.uuid4().hex[:10]}:{tag}"


def project(tmp_path: Path, marker: str) -> Path:
    root = tmp_path / "hello"
    (root / "build").mkdir(parents=True)
    (root / "build" / "plugin.wasm").write_bytes(proxy_wasm_module(marker))
    (root / "plugin.yaml").write_text(PLUGIN_YAML)
    (root / "README.md").write_text("# Hello\n")
    (root / "README.zh.md").write_text("# 你好\n")
    (root / "icon.png").write_bytes(PNG)
    return root


@pytest.mark.parametrize("layout", ["compat", "oci", "cncf", "docker"])
def test_push_pull_round_trip_is_byte_identical(layout: str, registry: RunningServer,
                                                tmp_path: Path) -> None:
    module = proxy_wasm_module(layout)
    source = tmp_path / "in.wasm"
    source.write_bytes(module)
    target = ref(registry)
    pushed = run_json("push", str(source), target, "--format", layout)
    assert pushed["layout"] == layout
    assert pushed["digest"].startswith("sha256:")
    out = tmp_path / "out.wasm"
    pulled = run_json("pull", target, "-o", str(out))
    assert out.read_bytes() == module
    assert pulled["digest"] == pushed["digest"]
    assert pulled["layout"] == layout
    assert pulled["module_digest"] == "sha256:" + hashlib.sha256(module).hexdigest()
    # pushing again uploads nothing and yields the same digest (packing is deterministic)
    again = run_json("push", str(source), target, "--format", layout)
    assert again["digest"] == pushed["digest"]
    assert again["uploaded"] == []


def test_push_project_dir_and_pull_all(registry: RunningServer, tmp_path: Path) -> None:
    root = project(tmp_path, "project")
    target = ref(registry, "1.2.3")
    result = run("push", str(root), target)
    assert result.exit_code == 0, result.stderr
    assert "digest: sha256:" in result.stdout
    dest = tmp_path / "pulled"
    dest.mkdir()
    pulled = run_json("pull", target, "-o", str(dest), "--all")
    name = target.rsplit("/", 1)[1].split(":")[0]
    assert (dest / f"{name}.wasm").read_bytes() == (root / "build" / "plugin.wasm").read_bytes()
    assert (dest / "plugin.yaml").read_text() == PLUGIN_YAML
    assert (dest / "README.md").read_text() == "# Hello\n"
    assert (dest / "README.zh.md").read_text() == "# 你好\n"
    assert (dest / "icon.png").read_bytes() == PNG
    assert len(pulled["files"]) == 5


def test_push_project_non_compat_warns_and_keeps_module(registry: RunningServer,
                                                         tmp_path: Path) -> None:
    root = project(tmp_path, "cncf-project")
    target = ref(registry)
    result = run("push", str(root), target, "--format", "cncf")
    assert result.exit_code == 0, result.stderr
    assert "cannot carry plugin.yaml" in result.stderr
    out = tmp_path / "m.wasm"
    assert run("pull", target, "-o", str(out)).exit_code == 0
    assert out.read_bytes() == (root / "build" / "plugin.wasm").read_bytes()


def test_push_large_module_uses_chunks(registry: RunningServer, tmp_path: Path) -> None:
    # A 9 MiB data segment makes the module larger than the 8 MiB chunk size.
    import wasmtime

    wat = ('(module (memory (export "memory") 200) (func (export "proxy_abi_version_0_2_0"))'
           '(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) '
           'i32.const 0) (data (i32.const 0) "' + "ab" * (9 * 1024 * 1024 // 2) + '"))')
    module = bytes(wasmtime.wat2wasm(wat))
    assert len(module) > 8 * 1024 * 1024
    source = tmp_path / "big.wasm"
    source.write_bytes(module)
    target = ref(registry)
    run_json("push", str(source), target, "--format", "cncf")
    out = tmp_path / "big-out.wasm"
    run_json("pull", target, "-o", str(out))
    assert out.read_bytes() == module


def test_tag_same_and_cross_repository(registry: RunningServer, tmp_path: Path) -> None:
    source = tmp_path / "t.wasm"
    source.write_bytes(proxy_wasm_module("tag"))
    src = ref(registry)
    digest = run_json("push", str(source), src)["digest"]
    same_repo = src.rsplit(":", 1)[0] + ":stable"
    other_repo = ref(registry, "copied")
    for dst in (same_repo, other_repo):
        result = run("tag", src, dst)
        assert result.exit_code == 0, result.stderr
        assert digest in result.stdout
        out = tmp_path / "tagged.wasm"
        assert run_json("pull", dst, "-o", str(out))["digest"] == digest
        assert out.read_bytes() == source.read_bytes()


def test_inspect_reference(registry: RunningServer, tmp_path: Path) -> None:
    source = tmp_path / "i.wasm"
    source.write_bytes(proxy_wasm_module("inspect-ref"))
    target = ref(registry)
    digest = run_json("push", str(source), target, "--format", "oci")["digest"]
    data = run_json("inspect", target)
    assert data["abi_version"] == "0.2.0"
    assert data["layout"] == "oci"
    assert data["reference"].endswith(f"@{digest}")


def test_pull_errors(registry: RunningServer, tmp_path: Path) -> None:
    missing = run("pull", f"{registry.host}/no/such:tag", "-o", str(tmp_path / "x.wasm"))
    assert missing.exit_code == 1
    assert one_line_error(missing) == (
        f"{registry.host}/no/such:tag: not found; no/such does not exist on {registry.host}"
        " or has no tags")
    assert not (tmp_path / "x.wasm").exists()
    with RegistryClient(registry.host) as client:
        push_simple(client, "cli/not-wasm", "v1", b"plain layer")
    not_wasm = run("pull", f"{registry.host}/cli/not-wasm:v1")
    assert not_wasm.exit_code == 1
    assert "not a Wasm plugin image" in one_line_error(not_wasm)
    port = free_port()
    down = run("pull", f"127.0.0.1:{port}/a:b")
    assert one_line_error(down) == f"cannot reach registry at 127.0.0.1:{port}: connection refused"
    assert run("pull", "no-host-and:BAD TAG").exit_code == 2


def test_push_errors(registry: RunningServer, tmp_path: Path) -> None:
    missing = run("push", str(tmp_path / "nope.wasm"), ref(registry))
    assert missing.exit_code == 2
    assert "does not exist" in one_line_error(missing)
    empty = tmp_path / "empty-project"
    empty.mkdir()
    no_module = run("push", str(empty), ref(registry))
    assert no_module.exit_code == 1
    assert "no built module" in one_line_error(no_module)
    old_style = project(tmp_path / "old", "old")
    (old_style / "plugin.yaml").write_text("name: hello\nversion: 1.0.0\n")
    bad_yaml = run("push", str(old_style), ref(registry))
    assert bad_yaml.exit_code == 1
    assert one_line_error(bad_yaml).startswith(f"{old_style / 'plugin.yaml'}: ")
    garbage = tmp_path / "garbage.wasm"
    garbage.write_bytes(b"not wasm at all")
    assert run("push", str(garbage), ref(registry)).exit_code == 1


def test_push_pull_via_real_executable(registry: RunningServer, tmp_path: Path) -> None:
    source = tmp_path / "exe.wasm"
    source.write_bytes(proxy_wasm_module("exe"))
    target = ref(registry)
    push = subprocess.run([*wasmhub_command(), "push", str(source), target, "--json"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert push.returncode == 0, push.stderr
    out = tmp_path / "exe-out.wasm"
    pull = subprocess.run([*wasmhub_command(), "pull", target, "-o", str(out), "--json"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert pull.returncode == 0, pull.stderr
    assert json.loads(pull.stdout)["digest"] == json.loads(push.stdout)["digest"]
    assert out.read_bytes() == source.read_bytes()
    bad = subprocess.run([*wasmhub_command(), "pull", f"{registry.host}/x/y:z"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 1
    assert bad.stderr.strip() == (f"error: {registry.host}/x/y:z: not found; x/y does not exist"
                                  f" on {registry.host} or has no tags")
