# The two commands of the README: `make run` and `make test`.
.PHONY: run test lint bench

run:
	@./scripts/bootstrap
	.venv/bin/cvsession serve

test:
	@./scripts/bootstrap
	@./scripts/services
	CVSESSION_REQUIRE_SERVICES=1 .venv/bin/python -m pytest

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
