from django.db import transaction
from django.utils import timezone

from fangyi.accounts.models import ApiToken, User, hash_token
from fangyi.core.audit import diff, record_change
from fangyi.core.models import ChangeLog

PASSWORD_CHANGED = "******"


def record_user_change(actor: User, user: User, before: dict[str, str]) -> None:
    """Audit a user's creation or change, given the snapshot taken before it."""
    changes = diff(before, user.audit_snapshot())
    if "password" in changes:
        changes["password"] = ["", PASSWORD_CHANGED]
    action = ChangeLog.Action.UPDATE if before else ChangeLog.Action.CREATE
    record_change(actor, user, action, changes, region=user.region)


@transaction.atomic
def create_api_token(user: User, name: str, *, created_by: User) -> tuple[ApiToken, str]:
    """A new token; the raw value is returned once and never stored."""
    raw = ApiToken.new_raw_token()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[3 : 3 + ApiToken.PREFIX_LENGTH],
        token_hash=hash_token(raw),
        created_by=created_by,
    )
    return token, raw


def revoke_api_token(token: ApiToken) -> None:
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])


def user_for_token(raw: str) -> User | None:
    token = (
        ApiToken.objects.active()
        .select_related("user__region")
        .filter(token_hash=hash_token(raw))
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # Touch at most once a minute: a busy machine client must not write on every call.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
