# One command everywhere (CONVENTIONS 11). `make soak` and `make bench` are the long runs of issue 6.
PY ?= .venv/bin/python
FUZZ_SCALE ?= 10

.PHONY: check lint test reliability soak bench

check: lint test

lint:
	.venv/bin/ruff check src tests bench
	.venv/bin/mypy

test:
	$(PY) -m pytest -q

reliability:  ## fuzzing, isolation, secrets, injection, faults (CI-sized)
	$(PY) -m pytest -q -s tests/reliability

soak:  ## the reliability suite with 10x the fuzzing examples, then the 60 s load test
	HEADWATER_FUZZ_EXAMPLES=$(FUZZ_SCALE) $(PY) -m pytest -q -s --timeout 3600 tests/reliability
	$(PY) bench/load_read.py --duration 60 --connections 50

bench:  ## read-endpoint load test (needs wrk: apt-get install -y wrk)
	$(PY) bench/load_read.py --duration 60 --connections 50
