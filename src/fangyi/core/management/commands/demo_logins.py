from django.core.management.base import BaseCommand

from fangyi.accounts.models import User
from fangyi.accounts.roles import RoleCode
from fangyi.demo.build import DEMO_PASSWORD, DEMO_USERS


class Command(BaseCommand):
    help = "List the demo logins (username, role, jurisdiction)."

    def handle(self, *args, **options):
        users = User.objects.select_related("region").in_bulk(
            [d.username for d in DEMO_USERS], field_name="username"
        )
        for demo in DEMO_USERS:
            user = users.get(demo.username)
            region = user.region.full_name if user and user.region else "-"
            self.stdout.write(f"{demo.username}\t{RoleCode(demo.role).label}\t{region}")
        self.stdout.write(f"password\t{DEMO_PASSWORD}")
