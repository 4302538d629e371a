"""What a competent developer's first Flask endpoint costs: a bare ``Flask`` app, no extensions,
no hooks, answering the same JSON as the metered ``/api/v1/users/jack``. ``run.py`` measures the
metered call against it (``ratio_to_minimal_flask``) beside the project's own bare endpoint."""

from flask import Flask, jsonify

from app.api import demo

app = Flask(__name__)


@app.get("/bench/bare")
def bare():
    """The same work as the project's bare endpoint: build the demo answer, return it as JSON."""
    return jsonify(demo.respond("/api/v1/users/{username}", {"username": "jack"}, {"q": ""}))


@app.get("/healthz")
def healthz():  # run.py waits for it before measuring
    return {"status": "ok"}
