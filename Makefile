# One command per developer task; each is a script in scripts/ so CI and humans run the same thing.
.PHONY: demo test check install bench

demo:  ## create .venv if needed, migrate the example store (SQLite), start a Celery worker and serve 127.0.0.1:8000
	scripts/demo.sh

test:  ## create .venv/.venv312 if needed and run every test lane (SQLite, PostgreSQL, Django 6)
	scripts/test.sh

check:  ## ruff + mypy
	scripts/check.sh

install:  ## just create/refresh .venv
	scripts/install.sh

bench:  ## run every benchmark (prints each ratio against its hand-written baseline)
	scripts/bench.sh
