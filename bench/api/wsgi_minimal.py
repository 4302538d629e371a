"""What a competent developer's first Flask endpoint costs: a bare ``Flask`` app, no extensions,
no hooks, answering the same JSON as the metered ``/api/v1/users/jack``. ``run.py`` measures the
metered call against it (``ratio_to_minimal_flask``) beside the project's own bare endpoint."""

from flask import Flask, jsonify

from app.api import demo

app = Flask(__name__)
BODY = demo.respond("/api/v1/users/{username}", {"username": "jack"}, {"q": ""})


@app.get("/bench/bare")
def bare():
    return jsonify(BODY)
