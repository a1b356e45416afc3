# The two commands a newcomer needs: `make run` and `make test`.
.PHONY: run test bootstrap lint typecheck bench

bootstrap:
	@scripts/bootstrap.sh

run: bootstrap
	.venv/bin/voxgate serve

test: bootstrap
	@scripts/test.sh

lint: bootstrap
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench

typecheck: bootstrap
	.venv/bin/mypy

bench: bootstrap
	.venv/bin/python bench/api.py
