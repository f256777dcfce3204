"""Realistic demo data, written with bulk inserts so 100,000 users take seconds."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import TypeVar

from blog.models import Article, Tag
from blog.models import Category as BlogCategory
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from shop.models import Category, CustomerProfile, Product

from cdp_bridge import segmentation
from cdp_bridge.models import Segment, SegmentGroup

BATCH = 5000
FIRST_NAMES = [
    "Anna",
    "Ben",
    "Chloe",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hugo",
    "Ida",
    "Jonas",
    "Kari",
    "Lars",
    "Mia",
    "Nils",
    "Olivia",
    "Paul",
    "Rosa",
    "Sven",
    "Tuva",
    "Ulrik",
]
LAST_NAMES = [
    "Berg",
    "Dahl",
    "Eriksen",
    "Fischer",
    "Hansen",
    "Jensen",
    "Keller",
    "Larsen",
    "Meyer",
    "Nilsen",
    "Olsen",
    "Richter",
    "Schmidt",
    "Wagner",
    "Weber",
]
COUNTRIES = ["NO", "DE", "SE", "DK", "AT", "CH"]
PRODUCT_LINES = {
    Product.ProductType.LAPTOP: ("Laptops", ["Air", "Pro", "Studio", "Go", "Ultra"]),
    Product.ProductType.PHONE: ("Phones", ["Mini", "Max", "Lite", "Plus", "Edge"]),
    Product.ProductType.ACCESSORY: ("Accessories", ["Sleeve", "Charger", "Dock", "Cable", "Stand"]),
}
BLOG_CATEGORIES = ["Reviews", "Guides", "News", "Stories"]
TAGS = ["battery", "design", "gaming", "office", "travel", "camera", "budget", "premium"]

T = TypeVar("T")


def batched(items: Iterator[T], size: int) -> Iterator[list[T]]:
    while chunk := list(islice(items, size)):
        yield chunk


def seed(
    users: int, products: int, articles: int, report: Callable[[str], None], history_days: int = 0
) -> None:
    """Add demo data until the site has at least the given numbers; safe to run again.

    With ``history_days``, also what the CDP dashboard shows: that many days of export runs and
    webhook deliveries (``demo.history``), once.
    """
    rng = random.Random(20261125)
    report(f"users: {seed_users(users, rng)} added")
    report(f"products: {seed_products(products, rng)} added")
    report(f"articles: {seed_articles(articles, rng)} added")
    report(f"segments: {seed_segments()}")
    if history_days:
        from demo.history import seed_history  # it reads the audiences' rules from here

        seed_history(history_days, report)


def seed_users(count: int, rng: random.Random) -> int:
    user_model = get_user_model()
    existing = user_model.objects.filter(username__startswith="customer").count()
    password = make_password("demo-password")  # hashed once: hashing is the slow part
    joined = timezone.now() - timedelta(days=720)

    def users() -> Iterator[object]:
        for number in range(existing + 1, count + 1):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            yield user_model(
                username=f"customer{number:07d}",
                first_name=first,
                last_name=last,
                email=f"{first.lower()}.{last.lower()}.{number}@example.com",
                password=password,
                date_joined=joined + timedelta(minutes=number % 1_000_000),
            )

    added = 0
    today = timezone.localdate()
    for chunk in batched(users(), BATCH):
        with transaction.atomic():
            user_model.objects.bulk_create(chunk)
            names = [user.username for user in chunk]  # type: ignore[attr-defined]
            found = user_model.objects.filter(username__in=names).values_list("pk", "username")
            CustomerProfile.objects.bulk_create(
                CustomerProfile(
                    user_id=pk,
                    country=rng.choice(COUNTRIES),
                    newsletter=rng.random() < 0.3,
                    date_of_birth=date(1950, 1, 1) + timedelta(days=rng.randrange(20000)),
                    **shopping_facts(int(username.removeprefix("customer")), today),
                )
                for pk, username in found
            )
        added += len(chunk)
    return added


def shopping_facts(number: int, today: date) -> dict[str, object]:
    """The demo shopping history of customer ``number``: every third customer's favourite is
    laptops, every fifth last ordered over half a year ago, every other one recently."""
    kinds = [Product.ProductType.ACCESSORY, Product.ProductType.LAPTOP, Product.ProductType.PHONE]
    if number % 5 == 1:
        last_order: date | None = today - timedelta(days=200 + number % 150)
    elif number % 2 == 0:
        last_order = today - timedelta(days=number % 60)
    else:
        last_order = None
    return {"favourite_product_type": kinds[number % 3], "last_order_on": last_order}


def seed_products(count: int, rng: random.Random) -> int:
    categories = {
        kind: Category.objects.get_or_create(slug=kind.value, defaults={"name": label})[0]
        for kind, (label, _) in PRODUCT_LINES.items()
    }
    existing = Product.objects.count()
    kinds = list(PRODUCT_LINES)
    products = []
    for number in range(existing + 1, count + 1):
        kind = kinds[number % len(kinds)]
        model = rng.choice(PRODUCT_LINES[kind][1])
        products.append(
            Product(
                sku=f"{kind.value[:3]}-{number:06d}",
                name=f"Nimbus {model} {number}",
                product_type=kind,
                category=categories[kind],
                description=f"The Nimbus {model}: made for everyday use.",
                price=Decimal(rng.randrange(1900, 250000)) / 100,
                in_stock=rng.random() < 0.85,
                released_on=date(2020, 1, 1) + timedelta(days=rng.randrange(2500)),
                attributes={
                    "colour": rng.choice(["black", "silver", "blue"]),
                    "weight_g": rng.randrange(20, 2500),
                },
            )
        )
    Product.objects.bulk_create(products, batch_size=BATCH)
    return len(products)


def seed_articles(count: int, rng: random.Random) -> int:
    categories = [
        BlogCategory.objects.get_or_create(slug=name.lower(), defaults={"name": name})[0]
        for name in BLOG_CATEGORIES
    ]
    tags = [
        Tag.objects.get_or_create(slug=name, defaults={"name": name.title()})[0] for name in TAGS
    ]
    existing = Article.objects.count()
    published = datetime(2024, 1, 1, tzinfo=timezone.get_current_timezone())
    articles = []
    for number in range(existing + 1, count + 1):
        topic = rng.choice(TAGS)
        articles.append(
            Article(
                title=f"{rng.choice(['Why', 'How', 'When'])} {topic} matters, part {number}",
                slug=f"article-{number}",
                language=rng.choice(Article.Language.values),
                category=rng.choice(categories),
                summary=f"All about {topic}.",
                body=f"A longer text about {topic}.\n\nWith a second paragraph.",
                reading_minutes=rng.randrange(2, 15),
                featured=rng.random() < 0.1,
                published_at=published + timedelta(hours=number * 7),
            )
        )
    Article.objects.bulk_create(articles, batch_size=BATCH)
    created = Article.objects.filter(slug__in=[article.slug for article in articles])
    through = Article.tags.through
    through.objects.bulk_create(
        [
            through(article_id=pk, tag_id=tag.pk)
            for pk in created.values_list("pk", flat=True)
            for tag in rng.sample(tags, 2)
        ],
        batch_size=BATCH,
    )
    return len(articles)


# Demo audiences, until the CDP's activation writes real ones, by the rules of the example's
# sandbox audiences (config/cdp_sandbox.yaml), so customer0000001 (password demo-password) is in
# both. Once the CDP has connected to the group, its activation decides.
SEGMENT_GROUP = "example_segment_group_identifier"
LAPSED_AFTER_DAYS = 180


def segment_rules() -> list[tuple[str, str, list[int]]]:
    """Each demo audience: its identifier, its name, and the users its rule takes in."""
    profiles = CustomerProfile.objects.filter(user__username__startswith="customer")
    lapsed_before = timezone.localdate() - timedelta(days=LAPSED_AFTER_DAYS)
    rules = {
        "laptop-shoppers": ("Laptop shoppers", {"favourite_product_type": "laptop"}),
        "lapsed-buyers": ("Lapsed buyers", {"last_order_on__lt": lapsed_before}),
    }
    return [
        (identifier, name, list(profiles.filter(**rule).values_list("user_id", flat=True)))
        for identifier, (name, rule) in rules.items()
    ]


def seed_segments() -> str:
    group, created = SegmentGroup.objects.get_or_create(
        identifier=SEGMENT_GROUP, defaults={"name": "CDP audiences"}
    )
    if group.is_locked:
        return "left alone: the CDP's activation manages the segment group"
    user_model = get_user_model()
    counts = [f"segment group {SEGMENT_GROUP} created"] if created else []
    for identifier, name, member_ids in segment_rules():
        segment = Segment.objects.filter(group=group, identifier=identifier).first()
        segment = segment or segmentation.create_segment(group, identifier, name)
        members = [user_model(pk=pk) for pk in member_ids]
        segmentation.assign_users_to_segment(segment, members)
        counts.append(f"{identifier} {segment.memberships.count()} members")
    return ", ".join(counts)
