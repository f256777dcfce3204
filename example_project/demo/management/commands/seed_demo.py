from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from demo.seeding import seed


class Command(BaseCommand):
    help = "Fill the example site with demo customers, products and articles (idempotent)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--users", type=int, default=1000)
        parser.add_argument("--products", type=int, default=200)
        parser.add_argument("--articles", type=int, default=100)
        parser.add_argument(
            "--history",
            type=int,
            default=0,
            metavar="DAYS",
            help="Also DAYS days of export runs and CDP deliveries, for the admin's CDP dashboard.",
        )

    def handle(
        self, *args: Any, users: int, products: int, articles: int, history: int, **options: Any
    ) -> None:
        seed(users, products, articles, report=self.stdout.write, history_days=history)
