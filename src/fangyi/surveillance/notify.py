"""Messages sent out of the system (SMS or another channel) to a user.

The backend is `settings.FANGYI_NOTIFIER`, a dotted path to a class with
`channel: str` and `deliver(user, message) -> None` (raising on failure). The default,
`LoggingNotifier`, writes the message to the log only: a deployment plugs its SMS gateway in
by naming its own class. Every send, delivered or failed, is kept as a `Notification`, and a
failure never stops the work that sent it (the in-app alert is already there).
"""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

from fangyi.surveillance.models import Notification

logger = logging.getLogger("fangyi.notify")


class LoggingNotifier:
    channel = "log"

    def deliver(self, user, message: str) -> None:
        logger.info("notify %s: %s", user.username, message)


def backend():
    return import_string(getattr(settings, "FANGYI_NOTIFIER", f"{__name__}.LoggingNotifier"))()


def send(user, message: str) -> Notification:
    notifier = backend()
    try:
        notifier.deliver(user, message)
    except Exception as error:  # a gateway's failure is recorded, not raised
        logger.warning("notify %s failed: %s", user.username, error)
        return Notification.objects.create(
            channel=notifier.channel,
            user=user,
            message=message[:255],
            status=Notification.Status.FAILED,
            error=str(error)[:255],
        )
    return Notification.objects.create(
        channel=notifier.channel,
        user=user,
        message=message[:255],
        status=Notification.Status.SENT,
    )
