# EFP Allocations: `make run` serves the demo, `make test` runs every check. Both work from a fresh clone.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
CHROMIUM := /usr/bin/chromium
AXE := node_modules/axe-core/axe.min.js

.PHONY: run test install chromium axe lint typecheck pytest lock clean bench scale-table hook-latency import-bench \
	capacity capacity-hosts

install: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# The demo's web hooks may post to a receiver on this machine (docs/compatibility.md, "Hooks").
run: export EFP_WEBHOOK_ALLOW_PRIVATE ?= true
run: install
	$(BIN)/efp migrate --noinput
	$(BIN)/efp collectstatic --noinput --verbosity 0
	$(BIN)/efp demo
	@echo "Open http://$(HOST):$(PORT)/ (API: http://$(HOST):$(PORT)/api/, docs: http://$(HOST):$(PORT)/api/docs/)"
	@# The background work (tasks, periodic jobs) runs beside the server and stops with it.
	$(BIN)/efp worker & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/efp serve --host $(HOST) --port $(PORT)

# Debian's Chromium drives the browser tests (Playwright cannot download browsers here).
chromium:
	@test -x $(CHROMIUM) || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# axe-core from the npm registry, pinned in package-lock.json: the accessibility checks of the browser tests.
axe: $(AXE)

$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: install
	$(BIN)/ruff check efp bench/scale_seed
	$(BIN)/ruff format --check efp bench/scale_seed

typecheck: install
	$(BIN)/mypy efp bench/scale_seed

pytest: install chromium axe
	$(BIN)/pytest

test: lint typecheck pytest

# Not part of `make test`: seeds a database on 127.0.0.1:5432 once with BENCH_RESOURCES resources (efp
# seed-scale; default 10000 in efp_bench, each other size in its own: BENCH_RESOURCES=100000 seeds and uses
# efp_bench_100k, under 15 minutes the first time), serves it with gunicorn, loads it with locust and writes
# bench/results/latest.{md,json} (latest_100k.{md,json} ...). BENCH_DURATION=10 BENCH_RUNS=1 by default.
bench: install
	$(BIN)/python -m bench.run

# Not part of `make test`: p50 of each provider list and GUI page, in-process, on seeds of SCALE_SIZES
# resources (default 1000,10000,100000; efp_scale_1k, efp_scale_10k, efp_scale_100k on 127.0.0.1:5432, each
# seeded once and again when the migrations change or SCALE_RESEED=1), medians of SCALE_RUNS=3 runs, and
# the ratio largest/smallest against 1.5x; writes bench/results/scale_table.{md,json}.
scale-table: install
	$(BIN)/python -m bench.scale_table

# Not part of `make test`: delivery latency of web hooks (event written -> hook received) over 1,000 events
# with `efp worker --processes 2`, on a fresh efp_latency database; writes bench/results/hook_latency.json.
hook-latency: install
	$(BIN)/python -m bench.hook_latency

# Not part of `make test`: the dry-run preview of a 100,000-line usage CSV, through the service and the API,
# on a fresh SQLite file and a fresh efp_importbench on 127.0.0.1:5432; prints the seconds.
import-bench: install
	$(BIN)/python -m bench.usage_import

# Not part of `make test`: 1,000 site agents and 20 GUI users (open loop, locust) against `efp serve` and one
# `efp worker` on the 100,000-resource seed (efp_capacity_100k, seeded once; CAPACITY_RESOURCES), 10 minutes
# at the real rates then load multiples; writes bench/results/capacity.{md,json}. See bench/capacity.py.
capacity: install
	$(BIN)/python -m bench.capacity

# Not part of `make capacity`: the same load against CAPACITY_HOSTS (1 or 2) app hosts in network namespaces,
# PostgreSQL in a third (root only); writes bench/results/capacity_hosts<N>.{md,json}.
capacity-hosts: install
	$(BIN)/python -m bench.capacity_hosts

lock:
	$(BIN)/pip-compile --quiet --no-emit-index-url --no-emit-find-links --strip-extras \
	  --extra dev -o requirements-dev.lock pyproject.toml
	$(BIN)/pip-compile --quiet --no-emit-index-url --no-emit-find-links --strip-extras \
	  -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) node_modules efp.sqlite3 test-output staticfiles
