"""The built-in demo backend: deterministic, clearly labelled sample data (used when
UPSTREAM_API_URL is unset). The same input always gives the same output."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

NOTICE = "Sample data from the TwtAPI demo backend. It is not real Twitter/X data."
WORDS = ("api", "data", "python", "open", "science", "music", "coffee", "travel", "news", "sports", "weather",
         "design", "privacy", "cloud", "cats", "football", "books", "markets", "space", "health")
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def _number(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def _meta(**extra) -> dict:
    return {"demo": True, "notice": NOTICE, **extra}


def user(username: str) -> dict:
    n = _number("user", username.lower())
    return {
        "id": str(10**15 + n % 10**15),
        "username": username,
        "name": username.replace("_", " ").title(),
        "description": f"Demo profile about {WORDS[n % len(WORDS)]} and {WORDS[(n // 7) % len(WORDS)]}.",
        "created_at": (EPOCH - timedelta(days=n % 4000)).isoformat().replace("+00:00", "Z"),
        "followers_count": n % 250_000,
        "following_count": (n // 3) % 5_000,
        "tweet_count": (n // 11) % 80_000,
        "verified": n % 9 == 0,
    }


def tweet(tweet_id: str, author: str | None = None) -> dict:
    n = _number("tweet", tweet_id)
    author = author or f"user_{n % 9973}"
    words = " ".join(WORDS[(n >> (4 * i)) % len(WORDS)] for i in range(6))
    return {
        "id": tweet_id,
        "text": f"Demo post about {words}.",
        "author_username": author,
        "lang": "en",
        "created_at": (EPOCH + timedelta(minutes=n % 1_000_000)).isoformat().replace("+00:00", "Z"),
        "metrics": {"likes": n % 5000, "reposts": (n // 13) % 900, "replies": (n // 17) % 300},
    }


def user_tweets(username: str, limit: int = 10) -> dict:
    base = _number("timeline", username.lower())
    items = [tweet(str(10**17 + (base + i) % 10**17), author=username) for i in range(limit)]
    return {"data": items, "meta": _meta(result_count=len(items))}


def search(query: str, limit: int = 10) -> dict:
    base = _number("search", query.lower())
    items = []
    for i in range(limit):
        item = tweet(str(10**17 + (base + i * 7919) % 10**17))
        item["text"] = f"Demo post mentioning {query}: " + item["text"]
        items.append(item)
    return {"data": items, "meta": _meta(query=query, result_count=len(items))}


def respond(endpoint: str, params: dict, args: dict) -> dict:
    """The demo answer for a priced endpoint (route pattern) with its path parameters."""
    if endpoint == "/api/v1/users/{username}":
        return {"data": user(params["username"]), "meta": _meta()}
    if endpoint == "/api/v1/users/{username}/tweets":
        return user_tweets(params["username"])
    if endpoint == "/api/v1/tweets/{id}":
        return {"data": tweet(params["id"]), "meta": _meta()}
    if endpoint == "/api/v1/tweets/search":
        return search(args["q"])
    raise KeyError(endpoint)
