from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from efp.accounts.models import User
from efp.accounts.services import issue_token


class Command(BaseCommand):
    help = "Prints a new API token of USERNAME (named `cli`); the ones made before keep working."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        self.stdout.write(issue_token(user=user, name="cli")[1])
