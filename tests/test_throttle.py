"""Attempt counters (app/throttle.py) live in the shared rate-limit storage under the site's
RATELIMIT_KEY_PREFIX: two sites on one Redis (staging and production, or two test runs) never
count each other's attempts, though their account ids are the same numbers."""

from __future__ import annotations

from app import throttle


def test_two_sites_sharing_a_redis_keep_their_own_attempt_counts(make_app, redis_url):
    first = make_app(RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_KEY_PREFIX="site-one-test")
    second = make_app(RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_KEY_PREFIX="site-two-test")
    with first.app_context():
        key = throttle.throttle_key("second-factor", "1")
        throttle.clear("3 per minute", key)
        assert [throttle.hit("3 per minute", key).allowed for _ in range(4)] == [True, True, True, False]
        assert key.startswith("site-one-test:") and "second-factor" in key and ":1" not in key
    with second.app_context():
        other = throttle.throttle_key("second-factor", "1")
        assert other != key
        assert throttle.check("3 per minute", other).allowed
    with first.app_context():
        assert not throttle.check("3 per minute", key).allowed
        throttle.clear("3 per minute", key)
