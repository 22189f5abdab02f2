"""The framework-agnostic kernel: models, commands, use cases, engine, DI, config (no Django)."""

__all__: list[str] = []
