"""What every provider's settings share: the marks of the settings production needs of a provider
(`Annotated[..., NEEDED]`), and the checks read from them. Each provider's own model is in its folder
(`payments/<name>/settings.py`), one of the bases of the assembly's `Settings`."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

from gateway.kit.settings import MIN_PROVIDER_SECRET_LENGTH, secret_problem


@dataclass(frozen=True)
class ProviderSetting:
    """How production treats a provider setting so marked (`Annotated[..., NEEDED]`): `needed`, it refuses to
    start without it when a contest uses the provider; `issued_secret`, it refuses one that could not be real."""

    needed: bool = True
    issued_secret: bool = False


NEEDED = ProviderSetting()
NEEDED_SECRET = ProviderSetting(issued_secret=True)


def marked_settings(model: type[BaseModel], *, secrets_only: bool = False) -> tuple[str, ...]:
    """The environment names of a provider model's NEEDED settings (or of its issued secrets only)."""
    return tuple(name.upper() for name, field in model.model_fields.items()
                 if any(isinstance(mark, ProviderSetting) and (mark.issued_secret or not secrets_only)
                        for mark in field.metadata))


def unset_settings(model: type[BaseModel], settings: BaseModel) -> list[str]:
    """The environment names of a provider model's NEEDED settings that `settings` leaves unset."""
    return [name for name in marked_settings(model) if not getattr(settings, name.lower())]


def secret_problems(model: type[BaseModel], settings: BaseModel,
                    min_length: int = MIN_PROVIDER_SECRET_LENGTH) -> list[str]:
    """The model's issued secrets that are set but could not be real (unset ones are reported as missing)."""
    names = marked_settings(model, secrets_only=True)
    values = ((name, getattr(settings, name.lower())) for name in names)
    problems = (secret_problem(name, value, min_length) for name, value in values if value)
    return [problem for problem in problems if problem]


def revealed(secret: SecretStr | None) -> str:
    """A secret setting's value, only where it is handed to its provider's client ("" when unset)."""
    return secret.get_secret_value() if secret is not None else ""


def plain_addresses(settings: BaseModel, *names: str) -> list[str]:
    """The provider addresses set that are not https:// (every provider's live API is)."""
    problems = []
    for name in names:
        value = getattr(settings, name.lower())
        if value and urlsplit(value).scheme != "https":
            problems.append(f"{name} must be an https:// address ({value} is not: a local stand-in, whose "
                            "payments are no money)")
    return problems
