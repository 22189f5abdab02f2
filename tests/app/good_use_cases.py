"""A valid use case discovered by the startup tests."""

from __future__ import annotations

from typing import Any

from loom_django.core.command import Command
from loom_django.core.use_case import Input, UseCase, use_case_key


class Greeting(Command, frozen=True):
    name: str


@use_case_key("tests.greet")
class GreetUseCase(UseCase[Any, str]):
    def execute(self, cmd: Greeting = Input()) -> str:
        return f"hello {cmd.name}"
