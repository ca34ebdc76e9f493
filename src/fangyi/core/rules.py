from django import forms
from django.core.exceptions import ValidationError
from django.utils.functional import lazy


class RuleError(Exception):
    """A rule refused the action: `message` is for the user (Chinese, lazy), `field` names
    the input at fault (None for the whole request), `code` is for machines."""

    def __init__(self, message, *, field: str | None = None, code: str = "invalid"):
        super().__init__(str(message))
        self.message = message
        self.field = field
        self.code = code


def add_rule_error(form: forms.Form, error: RuleError) -> None:
    """Show a service's refusal next to the input at fault (or above the form)."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, ValidationError(error.message, code=error.code))


def lazy_format(message, **params):
    """A translatable message with its values, rendered only when shown, so a refusal reads
    in the reader's language (pages) or in both (the API's msg and msg_en)."""
    return lazy(lambda: str(message) % params, str)()
