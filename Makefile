# TwtAPI portal. `make run` serves the site, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
# The links the site writes (mail, API docs, security.txt) follow the address served, unless set.
# On this machine's loopback address the site is named localhost: passkeys need a domain name.
SITE_HOST := $(if $(filter 127.0.0.1,$(HOST)),localhost,$(HOST))
SITE_URL ?= http://$(SITE_HOST):$(PORT)

.PHONY: run test lint sbom translations compile-translations migrate venv dev-venv clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the requirement files change.
$(VENV)/.runtime-installed: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# The Nu Html Checker (npm's vnu-jar, run with java) checks every page's markup in the suite.
VNU_VERSION := 26.9.27
$(VENV)/.dev-installed: requirements.txt requirements-dev.txt Makefile | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements-dev.txt
	if command -v npm >/dev/null; then npm install --prefix $(VENV)/node --no-audit --no-fund --silent vnu-jar@$(VNU_VERSION); \
	else echo "npm not found: the markup test (vnu-jar) will be skipped"; fi
	touch $@ $(VENV)/.runtime-installed

venv: $(VENV)/.runtime-installed
dev-venv: $(VENV)/.dev-installed

## Compile the message catalogues (.po -> .mo); the .mo files are build output, not committed.
compile-translations: venv
	$(BIN)/pybabel -q compile -d translations

## Extract messages from the code, merge them into every catalogue, and compile.
translations: venv
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot --no-location --sort-output --no-wrap .
	$(BIN)/pybabel -q update -i translations/messages.pot -d translations --no-wrap --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel -q compile -d translations

## Bring the database up to the newest migration.
migrate: venv
	$(FLASK) db upgrade

run: compile-translations migrate
	SITE_URL=$(SITE_URL) $(FLASK) policies publish
	SITE_URL=$(SITE_URL) $(FLASK) demo-data
	SITE_URL=$(SITE_URL) $(FLASK) run --host $(HOST) --port $(PORT)

# The suite runs on TEST_WORKERS processes (pytest-xdist; an idle worker takes tests from the busy one); 1 runs it
# in this process, in file order.
TEST_WORKERS ?= 2
test: dev-venv
	$(BIN)/pybabel -q compile -d translations
	$(BIN)/python -m pytest --cov --cov-report=term $(if $(filter 1,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist worksteal)

lint: dev-venv
	$(BIN)/ruff check .

## The software bill of materials of the pinned runtime requirements (CycloneDX 1.6 JSON, validated).
sbom: dev-venv
	$(BIN)/cyclonedx-py requirements requirements.txt --pyproject pyproject.toml --of JSON \
		--output-reproducible --validate -o sbom.cdx.json
	@echo "sbom.cdx.json: $$(grep -c '"bom-ref"' sbom.cdx.json) entries"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .coverage sbom.cdx.json translations/*/LC_MESSAGES/*.mo
