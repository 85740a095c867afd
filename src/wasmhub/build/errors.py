"""Errors raised while scaffolding and building plugin projects."""

from __future__ import annotations

from wasmhub.errors import ConflictError, InputError, WasmhubError


class ProjectError(InputError):
    """The directory is not a buildable plugin project, or its build files are invalid."""


class ToolchainMissingError(WasmhubError):
    """A compiler or package manager the project needs is not installed.

    ``tool`` names the missing executable; the message says how to install it.
    """

    def __init__(self, tool: str, message: str) -> None:
        super().__init__(message, detail={"tool": tool})
        self.tool = tool


class BuildFailedError(WasmhubError):
    """The toolchain ran and failed, or produced something that is not a proxy-wasm module."""


class DirectoryNotEmptyError(ConflictError):
    """``init`` was pointed at a non-empty directory without ``--force``."""
