"""A fake HTTP transport for stripe.StripeClient: Stripe's servers cannot be reached from here.

This is the only mock in the billing tests, and it stands for Stripe's servers, nothing of ours.
"""

import json
from urllib.parse import parse_qs

import stripe


class FakeStripeHTTP(stripe.HTTPClient):
    name = "fake"

    def __init__(self):
        super().__init__()
        self.requests = []

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        form = {k: v[0] for k, v in parse_qs(post_data or "").items()}
        self.requests.append({"method": method, "url": url, "headers": dict(headers or {}), "form": form})
        if url.endswith("/v1/checkout/sessions"):
            made = sum(1 for r in self.requests if r["url"].endswith("/v1/checkout/sessions"))
            session = "cs_test_fake123" + (f"_{made}" if made > 1 else "")  # one id a session, as Stripe
            body = {"id": session, "object": "checkout.session", "url": f"https://checkout.stripe.com/c/pay/{session}"}
        elif url.endswith("/v1/refunds"):
            body = {"id": "re_fake", "object": "refund", "status": "pending", "amount": int(form.get("amount", 0))}
        else:
            return json.dumps({"error": {"message": "unexpected"}}), 404, {}
        return json.dumps(body), 200, {"request-id": "req_fake"}

    def close(self):
        pass
