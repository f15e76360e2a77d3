# The two commands of the README: `make demo` and `make test`. Also `make bench`, `make lint`, `make docs`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint bench venv clean schema docs fuzz compare fixtures mutation mutation-conditions

$(BIN)/assessor: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,all,deploy-test]'
	@touch $@

venv: $(BIN)/assessor

## demo: install into .venv, scan this machine (its Docker engine and images) and a bundled
## sample image into the default database, then write a signed PDF and HTML report of it
## (build/report.pdf, build/report.html + .p7s; demo signing key in build/demo-keys)
DEMO_KEYS := ASSESSOR_KEY_DIR=build/demo-keys
demo: venv
	$(BIN)/assessor controls validate
	$(BIN)/python tools/sample_image.py build/sample-image
	targets="host:/ image:oci:build/sample-image"; \
	  if [ -S /var/run/docker.sock ]; then targets="$$targets engine:unix:///var/run/docker.sock"; fi; \
	  $(BIN)/assessor scan $$targets --all || test $$? -eq 1
	$(BIN)/assessor assessments --limit 5
	test -f build/demo-keys/signing-key.pem || \
	  $(DEMO_KEYS) $(BIN)/assessor keys init --organisation "assessor demo"
	$(DEMO_KEYS) $(BIN)/assessor report --sign -o build/report.pdf \
	  --organisation "assessor demo" --assessor "$${USER:-demo}"
	$(DEMO_KEYS) $(BIN)/assessor report --sign -o build/report.html \
	  --organisation "assessor demo" --assessor "$${USER:-demo}"
	$(DEMO_KEYS) $(BIN)/assessor verify build/report.pdf
	$(DEMO_KEYS) $(BIN)/assessor verify build/report.html

## test: install what the tests need (apt, dockerd when root), then run every test
test: venv
	bash scripts/test-setup.sh
	$(BIN)/python -m pytest tests --ignore=tests/bench $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

lint: venv
	$(BIN)/ruff check assessor tests migrations tools
	$(BIN)/ruff format --check assessor tests migrations tools
	$(BIN)/mypy
	$(BIN)/lint-imports

## bench: start-up of --version and scan --help; evaluation throughput; scan wall time against
## docker-bench-security on a staged state (10+1 containers, 6 images incl. two Debian-like); report
## rendering at 1,000 findings and the cost of signing it; the fleet report at 10, 100 and 1,000
## hosts (HTML and PDF: time, size); 1,000 synthetic host bundles signed, then `assessor ingest`
## into SQLite and PostgreSQL (wall and CPU time against the bundles' read+hash floor, raw sqlite3
## writes and one scan; a second quarter and the database growth per quarter; the fleet report of
## the 1,000 hosts); each export format against the JSON;
## secret redaction throughput (realistic and adversarial text) against a plain read of it
bench: venv
	bash scripts/test-setup.sh
	$(BIN)/python tests/bench/bench_startup.py
	$(BIN)/python tests/bench/bench_evaluate.py
	$(BIN)/python tests/bench/bench_scan.py
	$(BIN)/python tests/bench/bench_image.py
	$(BIN)/python tests/bench/bench_merge.py
	$(BIN)/python tests/bench/bench_registry.py
	$(BIN)/python tests/bench/bench_report.py
	$(BIN)/python tests/bench/bench_fleet_report.py
	$(BIN)/python tests/bench/bench_store.py
	$(BIN)/python tests/bench/bench_fleet.py
	$(BIN)/python tests/bench/bench_export.py
	$(BIN)/python tests/bench/bench_redact.py

## fuzz: coverage-guided fuzzing (atheris, the `fuzz` extra) of each parser of untrusted input,
## FUZZ_SECONDS each (default 60), one after another, seeded from tests/fixtures and controls/;
## new inputs go to build/fuzz/<target>/corpus, crashing ones to build/fuzz/<target>/crash-*
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= targets yaml layer archive image_json redact
fuzz: venv
	$(BIN)/python -c 'import atheris' 2>/dev/null || $(BIN)/pip install --quiet -e '.[fuzz]'
	rm -rf build/fuzz/seeds && $(BIN)/python tests/fuzz/seeds.py build/fuzz/seeds
	@rc=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/$$t/corpus; echo "== fuzz_$$t ($(FUZZ_SECONDS) s)"; \
	  nice -n 10 $(BIN)/python tests/fuzz/fuzz_$$t.py build/fuzz/$$t/corpus build/fuzz/seeds/$$t \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
	    -print_final_stats=1 -artifact_prefix=build/fuzz/$$t/ || rc=1; \
	done; exit $$rc

## schema: regenerate controls/schema/*.json from the models
schema: venv
	$(BIN)/assessor controls schema rule > controls/schema/rule.schema.json
	$(BIN)/assessor controls schema framework > controls/schema/framework.schema.json

## docs: regenerate controls/frameworks/cis-docker-1.6.0.yaml from the 1.8.0 file, then docs/controls.md
docs: venv
	$(BIN)/python tools/gen_mapped_frameworks.py
	$(BIN)/python tools/gen_cis_framework.py
	$(BIN)/python tools/gen_docs.py

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache

## compare: stage a mixed state on the real dockerd and host (labelled images and containers,
## audit rules), run docker-bench-security (../shared/peers) and assessor on it, record
## tests/peer/verdicts.json and regenerate docs/peer-comparison.md; fails on a difference
## (verdict or offender set) without a matching entry in tests/peer/explanations.yaml
compare: venv
	bash scripts/test-setup.sh
	$(BIN)/python -m tests.peer.compare --write

## fixtures: stage labelled containers on the real dockerd, offline host roots, image tarballs,
## daemons of their own (daemon.json variants, rootless, Podman), audit rules and registries, run
## the real collectors on them and rewrite the captured golden fixtures under tests/rules/ (each
## script declares the verdict every state must get, from the CIS text, and writes nothing when
## a rule disagrees), then re-record the evaluator message snapshot (captured ids, addresses and
## pids change from run to run): review both with git diff before committing;
## FIXTURES_ARGS=--check compares tests/rules/capture.py's share instead
fixtures: venv
	bash scripts/test-setup.sh
	$(BIN)/python -m tests.rules.capture $(FIXTURES_ARGS)
	if [ -z "$(FIXTURES_ARGS)" ]; then \
	  $(BIN)/python -m tests.integration.capture_container_fixtures --podman --variant && \
	  $(BIN)/python scripts/capture_host_fixtures.py && \
	  $(BIN)/python -m tests.dockerd_variant capture && \
	  $(BIN)/python tests/unit/test_evaluators.py --record; fi

## mutation: mutmut on the registered evaluation functions (assessor/evaluate/*.py, listed under
## [tool.mutmut] in pyproject.toml) in a copy of the checkout (build/mutation), against the golden
## fixtures and tests/unit/test_evaluators.py; fails on any survivor not in
## tests/mutation/equivalent-python.txt (docs/mutation.md). MUTATION_ARGS: e.g. --jobs 1
mutation: venv
	$(BIN)/python tools/mutate_python.py $(MUTATION_ARGS)

## mutation-conditions: every rule's condition tree mutated (operators flipped, values changed,
## clauses dropped) and judged on the rule's golden fixtures; fails under 99% killed or on a stale
## entry of tests/mutation/equivalent-conditions.txt
mutation-conditions: venv
	$(BIN)/python tools/mutate_conditions.py --threshold 99
