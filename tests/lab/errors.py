"""Exceptions raised by the lab."""

from __future__ import annotations


class LabError(Exception):
    """Base class for every lab failure."""


class LabUnavailable(LabError):
    """A prerequisite (binary, tool, kernel feature) is missing: the lab cannot run here."""


class LabStartError(LabError):
    """A lab process failed to start or never became ready; the message carries its log tail."""


class ApiError(LabError):
    """The apiserver answered a lab request with a non-success status."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.body = body
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:2000]}")
