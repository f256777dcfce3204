"""The CDP's audience API client: which audiences an anonymous visitor is in, by cookie id.

Not to be confused with ``SegmentMembership`` (a logged-in user's segments, stored on the site
by the activation webhook): this asks the CDP, on a page view, about a visitor who has no
account. Raptor's CDP API ("CDP API", content.raptorservices.com) answers
``GET {base_url}/api/v3/memberships/{identifier type}?identifierValue=<value>`` with
``{"memberships": [{"id": "5d822e81", "name": "Cat owners"}]}``: the audiences of the first
profile found. The audience ids are the identifiers the activation webhook gives segments, so
the same template tags serve visitors known by a cookie and users known by their account.

It is configured by the scope's ``membership`` block, and logs on ``cdp_bridge.membership``.
Answers are cached per cookie in Django's default cache for ``membership.cache_ttl`` seconds.
A failing API never fails a page: the visitor has no segments, one warning is logged, and the
API is left alone for ``UNAVAILABLE_FOR`` seconds so that later pages do not wait for it too.
"""

from __future__ import annotations

import hashlib
import logging

import requests
from django.core.cache import cache

from cdp_bridge.conf import ScopeSettings
from cdp_bridge.conf.schema import MembershipSettings
from cdp_bridge.http_sessions import body_excerpt, thread_session

logger = logging.getLogger("cdp_bridge.membership")

IDENTIFIER_TYPE = "coid"  # the visitor's cookie id, as Raptor's tracking script sets it
UNAVAILABLE_FOR = 30  # seconds without calls after the API failed
MAX_COOKIE_ID_LENGTH = 100  # a cookie id is a GUID; anything much longer is not one


class AudienceApiUnavailable(Exception):
    """The API could not be asked, or gave an answer that is not a membership list."""


def visitor_audiences(scope: ScopeSettings, cookie_id: str | None) -> frozenset[str]:
    """The audience ids of the visitor with ``cookie_id``; empty if unknown, unset or failing."""
    settings = scope.membership
    if not settings.base_url or not cookie_id or len(cookie_id) > MAX_COOKIE_ID_LENGTH:
        return frozenset()
    key = _cache_key(scope.name, cookie_id)
    cached = cache.get(key)
    if cached is not None:
        return frozenset(cached)
    outage_key = f"cdp_bridge:membership:{scope.name}:unavailable"
    if cache.get(outage_key):
        return frozenset()
    try:
        identifiers = fetch_audiences(settings, cookie_id)
    except AudienceApiUnavailable as error:
        if cache.add(outage_key, True, UNAVAILABLE_FOR):  # only the first failure is logged
            logger.warning(
                "The CDP membership API of scope %r failed (%s): anonymous visitors have no "
                "segments, and the API is not asked again for %d s.",
                scope.name,
                error,
                UNAVAILABLE_FOR,
            )
        return frozenset()
    if settings.cache_ttl:
        cache.set(key, sorted(identifiers), settings.cache_ttl)
    return identifiers


def fetch_audiences(settings: MembershipSettings, cookie_id: str) -> frozenset[str]:
    """Ask the API which audiences the visitor is in; AudienceApiUnavailable says why it failed.

    The request goes over the calling thread's pooled session: one connection, kept open.
    """
    assert settings.base_url
    url = f"{settings.base_url.rstrip('/')}/api/v3/memberships/{IDENTIFIER_TYPE}"
    headers = {
        "Accept": "application/json",
        "X-ACTIVATION-ID": settings.activation_id or "",
        "X-API-KEY": settings.api_key or "",
    }
    try:
        response = thread_session().get(
            url, params={"identifierValue": cookie_id}, headers=headers, timeout=settings.timeout
        )
    except requests.Timeout:
        raise AudienceApiUnavailable(
            f"no answer from {url} within {settings.timeout:g} s"
        ) from None
    except requests.RequestException as error:
        # The exception's text can hold the request; the class name is enough and leaks nothing.
        raise AudienceApiUnavailable(f"{url}: {type(error).__name__}") from None
    logger.debug("GET %s -> %s", url, response.status_code)
    if response.status_code == 404:
        return frozenset()  # no profile has this cookie id (yet)
    if response.status_code != 200:
        excerpt = body_excerpt(response)
        raise AudienceApiUnavailable(
            f"{url} answered {response.status_code}" + (f": {excerpt}" if excerpt else "")
        )
    return _parse(response, url)


def _parse(response: requests.Response, url: str) -> frozenset[str]:
    try:
        body = response.json()
    except ValueError:
        raise AudienceApiUnavailable(f"{url} answered with something that is not JSON") from None
    memberships = body.get("memberships") if isinstance(body, dict) else None
    if not isinstance(memberships, list) or not all(
        isinstance(item, dict) and isinstance(item.get("id"), str | int) for item in memberships
    ):
        raise AudienceApiUnavailable(f"{url} answered without a list of memberships")
    return frozenset(str(item["id"]) for item in memberships)


def _cache_key(scope_name: str, cookie_id: str) -> str:
    # Hashed: a cookie is visitor input, and cache backends limit the characters of a key.
    digest = hashlib.sha256(cookie_id.encode()).hexdigest()
    return f"cdp_bridge:membership:{scope_name}:{digest}"
