# Benchmarks side by side with Ray and Dask (issue 6); see bench/README.md.
# Included from the Makefile. Ray and Dask live in their own environment, bench/.venv, made
# here from bench/requirements.txt; Cloudburst is measured from the project's .venv.

BENCH_VENV := bench/.venv
# Extra flags for bench/run.py, e.g. BENCH_ARGS="--reps 3 --systems cloudburst,ray"
BENCH_ARGS ?=

.PHONY: bench bench-quick bench-env bench-clean bench-durability

$(BENCH_VENV)/.installed: bench/requirements.txt | $(UV)
	$(UV) venv --allow-existing --python $(PYTHON) $(BENCH_VENV)
	$(UV) pip install --python $(BENCH_VENV)/bin/python -r bench/requirements.txt
	touch $@

bench-env: $(BENCH_VENV)/.installed  ## Create bench/.venv with Ray, Dask and the report's tools

bench: install bench-env  ## Benchmark Cloudburst vs Ray vs Dask; writes bench/results/latest.{json,png}
	$(BENCH_VENV)/bin/python bench/run.py $(BENCH_ARGS)
	$(VENV)/bin/python bench/durability.py --out bench/results/durability.json

bench-quick: install bench-env  ## The same with small counts (a smoke run, ~1 min); bench/results/quick.*
	$(BENCH_VENV)/bin/python bench/run.py --quick $(BENCH_ARGS)
	$(VENV)/bin/python bench/durability.py --quick --out bench/results/durability-quick.json

bench-durability: install  ## The durability modes side by side: put p50/throughput, recovery
	$(VENV)/bin/python bench/durability.py --out bench/results/durability.json

bench-clean:  ## Remove bench/.venv
	rm -rf $(BENCH_VENV)
