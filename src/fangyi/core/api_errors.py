"""API error details in the shape of ninja's 422, in Chinese and English."""

from django.utils import translation


def bilingual(message, params: dict | None = None) -> dict[str, str]:
    """A (lazy) message rendered in Chinese and in English."""

    def render(language: str) -> str:
        with translation.override(language):
            text = str(message)
            return text % params if params else text

    return {"msg": render("zh-hans"), "msg_en": render("en")}


def form_errors(form) -> list[dict]:
    """Django form errors as a list of {loc, type, msg, msg_en}."""
    return [
        {
            "loc": ["body", field],
            "type": error.code or "invalid",
            **bilingual(error.message, error.params),
        }
        for field, errors in form.errors.as_data().items()
        for error in errors
    ]
