# The two commands of the README: `make run` and `make test`.
.PHONY: run test lint bench

run:
	@./scripts/bootstrap
	.venv/bin/cvsession serve

# Three stages, each failing the target: the Python suite, the browser library's node tests,
# and the browser tests (a pytest process of their own, see pyproject.toml).
test:
	@./scripts/bootstrap
	@./scripts/services
	@./scripts/browser
	CVSESSION_REQUIRE_SERVICES=1 .venv/bin/python -m pytest
	node --test tests/js/
	CVSESSION_REQUIRE_SERVICES=1 .venv/bin/python -m pytest tests/e2e

lint:
	@./scripts/bootstrap
	.venv/bin/ruff check src tests bench
	.venv/bin/mypy

bench:
	@./scripts/bootstrap
	.venv/bin/python -m pip install -q -e '.[dev,bench]'
	.venv/bin/python bench/mutations.py
	.venv/bin/python bench/sync.py
	.venv/bin/python bench/checkpoint_overhead.py
	.venv/bin/python bench/parse_quality.py
