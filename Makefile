# cardlake: `make demo` runs the whole pipeline on local defaults, `make test` runs the tests.
# Both install what a fresh Debian/Ubuntu machine lacks first (idempotent, quick when done).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
EMU_VENV := .venv-bqemu
# Glue 5.0's Spark: the masking UDFs, the gate, the job script end to end (local and on a
# standalone cluster) and the key-leakage checks run under it too, with the same jar. The
# whole-warehouse and PII-corpus runs stay on Spark 4 only: they exercise no Spark API the
# job tests do not, and cost 90 s more here.
SPARK35_VENV := .venv-spark35
SPARK35_TESTS := tests/unit/test_masking.py tests/unit/test_quality.py tests/unit/test_kanonymity.py \
  tests/e2e/test_jobs.py tests/e2e/test_key_leakage.py
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test check bench bootstrap system-packages lint lint-fast clean jar

demo: bootstrap
	$(VENV)/bin/cardlake demo

# Everything: lint, SQL lint, unit + integration + e2e tests, then Glue's Spark 3.5 pass.
test: bootstrap lint
	$(VENV)/bin/pytest
	$(SPARK35_VENV)/bin/pytest -p no:cacheprovider $(SPARK35_TESTS)

# Side-by-side benchmark against pandas, dlt, ConnectorX, DuckDB, ingestr, the raw client scan
# and a Python-UDF Spark job (see docs/benchmarks.md).
ROWS ?= 1000000
bench: bootstrap
	$(VENV)/bin/python -m bench.run --rows $(ROWS)

bootstrap: system-packages $(VENV)/.installed $(EMU_VENV)/.installed $(SPARK35_VENV)/.installed jar

# cardlake's masking UDFs (masking/jvm), compiled against the Spark API that Spark 3.5 (Glue
# 5.0) and Spark 4 share; built here, never committed. Ship it to Glue with --extra-jars.
MASKING_JAR := masking/jvm/build/cardlake-masking.jar
MASKING_SRC := $(wildcard masking/jvm/src/cardlake/masking/*.java)
jar: $(MASKING_JAR)
$(MASKING_JAR): $(MASKING_SRC) $(VENV)/.installed
	rm -rf masking/jvm/build/classes && mkdir -p masking/jvm/build/classes
	javac --release 17 -Xlint:all,-path -Werror -d masking/jvm/build/classes \
	  -cp "$$($(VENV)/bin/python -c 'import pyspark, os; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')/*" \
	  $(MASKING_SRC)
	jar --create --file $@ -C masking/jvm/build/classes .

system-packages:
	@missing=""; \
	command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing="$$missing mariadb-server mariadb-client"; \
	[ -f /usr/share/java/mariadb-java-client.jar ] || missing="$$missing libmariadb-java"; \
	command -v javac >/dev/null || missing="$$missing openjdk-17-jdk-headless"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	fc-list :lang=ja | grep -q . || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	# The bench's peers too: make test checks their tokens at a tiny size (tests/integration/test_bench.py).
	$(VENV)/bin/pip install -q -e '.[dev,bench]'
	touch $@

$(SPARK35_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(SPARK35_VENV)
	$(SPARK35_VENV)/bin/pip install -q --upgrade pip
	$(SPARK35_VENV)/bin/pip install -q -e '.[dev]' 'pyspark>=3.5,<3.6'
	touch $@

$(EMU_VENV)/.installed: requirements-bqemu.txt
	$(PYTHON) -m venv $(EMU_VENV)
	$(EMU_VENV)/bin/pip install -q -r requirements-bqemu.txt
	touch $@

# The edit-test loop: lint, the architecture contracts and the unit tests (no servers).
check: $(VENV)/.installed jar lint-fast
	$(VENV)/bin/pytest -q -p no:cacheprovider tests/unit

lint-fast: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

lint: lint-fast
	$(VENV)/bin/sqlfluff lint warehouse_sql

clean:
	-$(VENV)/bin/cardlake stack down
	-$(VENV)/bin/cardlake warehouse down
	rm -rf .cardlake
