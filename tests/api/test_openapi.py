"""The OpenAPI document is valid OpenAPI 3.1 (openapi-spec-validator), and what the gateway really
answers matches its schemas: every endpoint's data, every example, every refusal's problem body."""

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import bearer

CALLS = {"/api/v1/users/{username}": "/api/v1/users/jack",
         "/api/v1/users/{username}/tweets": "/api/v1/users/jack/tweets",
         "/api/v1/tweets/{id}": "/api/v1/tweets/1234567890",
         "/api/v1/tweets/search": "/api/v1/tweets/search?q=python",
         "/api/v1/account": "/api/v1/account"}


def schema_of(doc: dict, ref: dict) -> Draft202012Validator:
    """A validator for ``ref`` (a ``$ref`` into the document's components)."""
    return Draft202012Validator({**ref, "components": doc["components"]})


@pytest.fixture
def doc(client):
    return client.get("/api/v1/openapi.json").get_json()


def test_the_document_is_valid_openapi_3_1(doc):
    validate(doc)  # raises on any error
    assert set(CALLS) == set(doc["paths"])


def test_every_operation_has_an_example_that_fits_its_schema_and_a_problem_for_every_error(doc):
    for path, operations in doc["paths"].items():
        operation = operations["get"]
        assert operation["operationId"].startswith("get")
        ok = operation["responses"]["200"]
        content = ok["content"]["application/json"]
        schema_of(doc, content["schema"]).validate(content["example"])
        assert {"X-Request-Id", "X-Credits-Remaining", "RateLimit", "RateLimit-Policy"} <= set(ok["headers"])
        for status, response in operation["responses"].items():
            if status != "200":
                problem = response["content"]["application/problem+json"]
                schema_of(doc, problem["schema"]).validate(problem["example"])
        for parameter in operation["parameters"]:
            assert "example" in parameter and parameter["schema"]["type"] == "string", (path, parameter)


def test_what_the_gateway_answers_matches_the_documented_schemas(app, client, doc):
    _user, secret = make_customer(app, credits=1000)
    for path, url in CALLS.items():
        response = client.get(url, headers=bearer(secret))
        assert response.status_code == 200, url
        schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        schema_of(doc, schema).validate(response.get_json())
    problem = doc["components"]["schemas"]["Problem"]
    for url, status in (("/api/v1/users/" + "x" * 16, 400), ("/api/v1/nothing", 404)):
        refused = client.get(url, headers=bearer(secret))
        assert refused.status_code == status
        Draft202012Validator(problem).validate(refused.get_json())


def test_the_docs_page_has_a_section_per_endpoint_with_three_examples_each(client, doc, app):
    page = client.get("/docs/api").get_data(as_text=True)
    site = app.config["SITE_URL"]
    for operations in doc["paths"].values():
        op = operations["get"]["operationId"]
        assert f'<section class="endpoint" id="{op}"' in page
        for language in ("curl", "python", "js"):
            assert f'data-copy="{op}-{language}"' in page, (op, language)
    assert f'curl -H "Authorization: Bearer $TWTAPI_KEY" "{site}/api/v1/tweets/search?q=python"' in page
    assert 'params={&#34;q&#34;: &#34;python&#34;}' in page or "params={\"q\": \"python\"}" in page
    assert "os.environ['TWTAPI_KEY']" in page and "process.env.TWTAPI_KEY" in page
    assert "&#34;username&#34;: &#34;jack&#34;" in page  # the example answer, from the demo backend


def test_every_path_documents_head_as_free_with_the_headers_of_its_get(doc, client):
    for operations in doc["paths"].values():
        head, get = operations["head"], operations["get"]
        assert head["operationId"] == "head" + get["operationId"].removeprefix("get")
        assert head["x-credits"] == 0 and head["parameters"] == get["parameters"]
        assert set(head["responses"]["200"]["headers"]) == set(get["responses"]["200"]["headers"])
        assert "content" not in head["responses"]["200"]  # no body
    page = client.get("/docs/api").get_data(as_text=True)
    assert 'id="head"' in page and "curl -I" in page and "nothing is charged" in page
