"""Running a project's real toolchain: checks, command lines, output streaming, inspection.

``build_project`` recognises the project (``wasmhub.build.project``), checks that every tool
it needs is on PATH (``ToolchainMissingError`` says how to install a missing one), runs the
commands while streaming their output line by line to a sink, copies the artifact to the
output path and inspects it with ``wasmhub.wasm.inspect_module``: a build that does not
yield a proxy-wasm module fails (``BuildFailedError``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wasmhub.build.errors import BuildFailedError, ProjectError, ToolchainMissingError
from wasmhub.build.project import DEFAULT_OUTPUT, Language, Project, load_project
from wasmhub.wasm import ModuleReport, WasmFormatError, inspect_module

OutputSink = Callable[[str], None]

RUST_TARGETS = ("wasm32-wasip1", "wasm32-wasi", "wasm32-unknown-unknown")

INSTALL_HINTS: dict[str, str] = {
    "npm": "install Node.js 18+ and npm from https://nodejs.org (Debian: apt-get install npm)",
    "node": "install Node.js 18+ from https://nodejs.org (Debian: apt-get install nodejs)",
    "clang": (
        "install clang for wasm32-wasi (Debian: apt-get install clang lld wasi-libc "
        "libclang-rt-14-dev-wasm32) or the WASI SDK from https://github.com/WebAssembly/wasi-sdk"
    ),
    "clang++": (
        "install clang++ for wasm32-wasi (Debian: apt-get install clang lld wasi-libc "
        "libclang-rt-14-dev-wasm32 libc++-14-dev-wasm32) or the WASI SDK from "
        "https://github.com/WebAssembly/wasi-sdk"
    ),
    "wasm-ld": "install the LLVM linker for wasm (Debian: apt-get install lld)",
    "cargo": "install Rust from https://rustup.rs and `rustup target add wasm32-wasip1`",
    "rustc": "install Rust from https://rustup.rs and `rustup target add wasm32-wasip1`",
    "tinygo": (
        "install TinyGo from https://tinygo.org/getting-started/install/ "
        "(it also needs Go from https://go.dev/dl)"
    ),
    "go": "install Go from https://go.dev/dl (TinyGo needs it for modules)",
}


@dataclass(frozen=True)
class Command:
    """One toolchain invocation."""

    description: str
    argv: tuple[str, ...]
    cwd: Path

    def display(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True)
class BuildPlan:
    project: Project
    output: Path
    commands: tuple[Command, ...]
    artifact: Path  # where the last command leaves the module (copied to output if different)


@dataclass(frozen=True)
class BuildResult:
    project: Project
    output: Path
    report: ModuleReport
    commands: tuple[Command, ...] = field(default=())


def _path_of(env: Mapping[str, str]) -> str | None:
    return env.get("PATH")


def require_tool(name: str, env: Mapping[str, str]) -> str:
    """The absolute path of ``name`` on env's PATH, or ``ToolchainMissingError``."""
    found = shutil.which(name, path=_path_of(env))
    if found is None:
        hint = INSTALL_HINTS.get(name, f"install {name} and put it on PATH")
        raise ToolchainMissingError(name, f"{name} not found: {hint}")
    return found


def _capture(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> str:
    completed = subprocess.run(
        list(argv), cwd=cwd, env=dict(env), capture_output=True, text=True, check=False
    )
    return completed.stdout if completed.returncode == 0 else ""


def _plan_assemblyscript(project: Project, output: Path, env: Mapping[str, str]) -> BuildPlan:
    npm = require_tool("npm", env)
    require_tool("node", env)
    package_root = project.find_package_root()
    if package_root is None:
        raise ProjectError(
            f"{project.root}: no package.json here or above; it must pin assemblyscript "
            "and @solo-io/proxy-runtime (see `wasmhub init --language assemblyscript`)"
        )
    commands: list[Command] = []
    if not (package_root / "node_modules").is_dir():
        verb = "ci" if (package_root / "package-lock.json").is_file() else "install"
        commands.append(
            Command(f"npm {verb} in {package_root}", (npm, verb, "--no-audit", "--no-fund"),
                    package_root)
        )
    asc = package_root / "node_modules" / ".bin" / "asc"
    commands.append(
        Command(
            "compile with asc",
            (str(asc), project.entry, "-b", str(output), "--use", "abort=abort_proc_exit",
             *(project.flags or ("--optimize",))),
            project.root,
        )
    )
    return BuildPlan(project, output, tuple(commands), output)


def _plan_clang(project: Project, output: Path, env: Mapping[str, str]) -> BuildPlan:
    compiler = require_tool("clang++" if project.language is Language.CPP else "clang", env)
    require_tool("wasm-ld", env)
    default_flags = ("-O2", "-fno-exceptions") if project.language is Language.CPP else ("-O2",)
    argv: list[str] = [compiler, "--target=wasm32-wasi", "-mexec-model=reactor"]
    argv += project.flags or default_flags
    sysroot = project.sysroot or env.get("WASI_SYSROOT")
    if sysroot:
        argv.append(f"--sysroot={sysroot}")
    argv += [*project.sources, "-Wl,--strip-all", "-o", str(output)]
    name = "clang++" if project.language is Language.CPP else "clang"
    return BuildPlan(project, output, (Command(f"compile with {name}", tuple(argv), project.root),),
                     output)


def _crate_name(project: Project) -> str:
    try:
        manifest = tomllib.loads((project.root / "Cargo.toml").read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{project.root / 'Cargo.toml'}: {exc}") from None
    package = manifest.get("package")
    lib = manifest.get("lib")
    name = None
    if isinstance(lib, dict) and isinstance(lib.get("name"), str):
        name = lib["name"]
    elif isinstance(package, dict) and isinstance(package.get("name"), str):
        name = package["name"]
    if name is None:
        raise ProjectError(f"{project.root / 'Cargo.toml'}: no [package] name")
    return str(name).replace("-", "_")


def _plan_rust(project: Project, output: Path, env: Mapping[str, str]) -> BuildPlan:
    cargo = require_tool("cargo", env)
    rustc = require_tool("rustc", env)
    known = set(_capture([rustc, "--print", "target-list"], env, project.root).split())
    wanted = project.settings.get("target")
    candidates = (wanted,) if isinstance(wanted, str) else RUST_TARGETS
    target = next((t for t in candidates if t in known), None)
    if target is None:
        raise ToolchainMissingError(
            "rustc", f"rustc knows none of {', '.join(candidates)}: update Rust with "
            "`rustup update` and `rustup target add wasm32-wasip1`"
        )
    rustup = shutil.which("rustup", path=_path_of(env))
    if rustup is not None:
        installed = _capture([rustup, "target", "list", "--installed"], env, project.root).split()
        if target not in installed:
            raise ToolchainMissingError(
                "rustup", f"Rust target {target} is not installed: `rustup target add {target}`"
            )
    artifact = project.root / "target" / target / "release" / f"{_crate_name(project)}.wasm"
    command = Command(f"cargo build for {target}",
                      (cargo, "build", "--release", "--target", target), project.root)
    return BuildPlan(project, output, (command,), artifact)


def _plan_tinygo(project: Project, output: Path, env: Mapping[str, str]) -> BuildPlan:
    tinygo = require_tool("tinygo", env)
    go = require_tool("go", env)
    commands: list[Command] = []
    if not (project.root / "go.sum").is_file():
        commands.append(Command("go mod tidy", (go, "mod", "tidy"), project.root))
    commands.append(
        Command(
            "compile with tinygo",
            (tinygo, "build", "-o", str(output), "-scheduler=none", "-target=wasi",
             *project.flags, "."),
            project.root,
        )
    )
    return BuildPlan(project, output, tuple(commands), output)


_PLANNERS: dict[Language, Callable[[Project, Path, Mapping[str, str]], BuildPlan]] = {
    Language.ASSEMBLYSCRIPT: _plan_assemblyscript,
    Language.C: _plan_clang,
    Language.CPP: _plan_clang,
    Language.RUST: _plan_rust,
    Language.TINYGO: _plan_tinygo,
}


def plan_build(
    directory: Path, output: Path | None = None, *, env: Mapping[str, str] | None = None
) -> BuildPlan:
    """Recognise the project and check its tools; nothing is run that changes files."""
    environment = dict(os.environ if env is None else env)
    project = load_project(directory)
    target = (output if output is not None else project.root / DEFAULT_OUTPUT).resolve()
    return _PLANNERS[project.language](project, target, environment)


def run_command(command: Command, sink: OutputSink, env: Mapping[str, str]) -> None:
    """Run one command, streaming stdout and stderr lines to ``sink``; raise on failure."""
    try:
        process = subprocess.Popen(
            list(command.argv), cwd=command.cwd, env=dict(env), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1,
        )
    except FileNotFoundError:
        tool = Path(command.argv[0]).name
        hint = INSTALL_HINTS.get(tool, "check that the toolchain is installed")
        raise ToolchainMissingError(tool, f"{command.argv[0]} not found: {hint}") from None
    assert process.stdout is not None
    with process:
        for line in process.stdout:
            sink(line.rstrip("\n"))
    if process.returncode != 0:
        raise BuildFailedError(
            f"{command.description} failed with exit code {process.returncode}: {command.display()}"
        )


def build_project(
    directory: Path,
    output: Path | None = None,
    *,
    sink: OutputSink = print,
    env: Mapping[str, str] | None = None,
    on_command: Callable[[Command], None] | None = None,
) -> BuildResult:
    """Build the plugin in ``directory`` to ``output`` (default ``build/plugin.wasm``)."""
    environment = dict(os.environ if env is None else env)
    plan = plan_build(directory, output, env=environment)
    plan.output.parent.mkdir(parents=True, exist_ok=True)
    for command in plan.commands:
        if on_command is not None:
            on_command(command)
        run_command(command, sink, environment)
    if not plan.artifact.is_file():
        raise BuildFailedError(f"the toolchain finished but {plan.artifact} was not written")
    if plan.artifact != plan.output:
        shutil.copyfile(plan.artifact, plan.output)
    data = plan.output.read_bytes()
    try:
        report = inspect_module(data)
    except WasmFormatError as exc:
        raise BuildFailedError(f"{plan.output} is not a valid Wasm module: {exc.message}") from None
    if not report.is_proxy_wasm:
        raise BuildFailedError(
            f"{plan.output} exports no proxy_abi_version_* function: not a proxy-wasm plugin"
        )
    return BuildResult(plan.project, plan.output, report, plan.commands)
