"""A use case with a structural error, discovered only by the startup tests."""

from __future__ import annotations

from typing import Any

from loom_django.core.command import Command
from loom_django.core.use_case import Input, UseCase


class Greeting(Command, frozen=True):
    name: str


class BrokenGreetingUseCase(UseCase[Any, Any]):
    def execute(self, first: Greeting = Input(), second: Greeting = Input()) -> None: ...
