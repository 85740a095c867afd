"""Plugin toolchains: ``wasmhub init`` scaffolding and ``wasmhub build``.

``project`` recognises a plugin project and its language, ``scaffold`` writes new projects
from the package-data templates, ``toolchains`` checks for and runs the real compilers
(npm + asc, clang/clang++ for wasm32-wasi, cargo, tinygo) and inspects what they produce.
"""

from __future__ import annotations

from wasmhub.build.errors import (
    BuildFailedError,
    DirectoryNotEmptyError,
    ProjectError,
    ToolchainMissingError,
)
from wasmhub.build.project import INIT_LANGUAGES, Language, Project, load_project, parse_language
from wasmhub.build.scaffold import InitResult, init_project, normalize_name
from wasmhub.build.toolchains import (
    BuildPlan,
    BuildResult,
    Command,
    build_project,
    plan_build,
    require_tool,
)

__all__ = [
    "INIT_LANGUAGES",
    "BuildFailedError",
    "BuildPlan",
    "BuildResult",
    "Command",
    "DirectoryNotEmptyError",
    "InitResult",
    "Language",
    "Project",
    "ProjectError",
    "ToolchainMissingError",
    "build_project",
    "init_project",
    "load_project",
    "normalize_name",
    "parse_language",
    "plan_build",
    "require_tool",
]
