# lead_audit: the two commands a newcomer needs are `make demo` and `make test`.
# Both install what is missing first (scripts/install_deps.sh).
#
# PG picks the PostgreSQL major (14 to 18; default 15, the system's): every
# target builds, installs and tests against that server. `make test-all`
# runs `make test` and then the suites on every other major.

PG         ?= 15
MAJORS     := $(shell scripts/postgres.sh majors)
PGBIN      := $(shell scripts/postgres.sh bindir $(PG))
PG_CONFIG  ?= $(PGBIN)/pg_config
PGRX_TEST_DATA ?= /tmp/lead_audit_pgrx_test
export PG PGBIN
SUDO_FLAG  := $(if $(filter 0,$(shell id -u)),,--sudo)

.PHONY: all deps install install-debug package demo test test-all test-major test-releases test-docs test-demo test-proofs release-record test-errors test-unit test-regress test-ledger test-attempts test-replication test-robustness test-upgrade test-python test-pooler test-package lint bench bench-instructions clean

all: install

deps:
	@MAJORS=$(PG) bash scripts/install_deps.sh

## Build (release) and install into PostgreSQL $(PG).
install: deps
	cargo pgrx install --release --pg-config $(PG_CONFIG) $(SUDO_FLAG)

# Tests run against a debug build: quicker to compile, same behaviour.
install-debug: deps
	cargo pgrx install --pg-config $(PG_CONFIG) $(SUDO_FLAG)

## The Debian package postgresql-$(PG)-lead-audit (release build), in target/debian/.
package: deps
	bash scripts/package.sh

## The whole story on a throwaway cluster: audit a leads table, show the log,
## verify it, tamper with it, catch the tampering.
demo: install
	bash scripts/demo.sh

## Every test on PostgreSQL $(PG): lint, Rust unit and #[pg_test] tests,
## pg_regress scenarios, the error corpus, the ledger end to end, the upgrade
## from every release, the Python client and its examples, PgBouncer, the
## Debian package; and, once, the released scripts kept frozen, the links of
## the Markdown pages, and the demo.
test: test-major test-upgrade test-package test-releases test-docs test-demo
	@echo "make test: all test suites passed on PostgreSQL $(PG)"

## `make test` on the system's 15, then every suite on each other major, and
## its Debian package built and checked (upgrades only from releases that
## supported that major: none yet; the package installed only where Debian 12
## has the server: 15).
test-all: test
	@for m in $(filter-out $(PG),$(MAJORS)); do \
		$(MAKE) --no-print-directory test-major PG=$$m || exit 1; \
		$(MAKE) --no-print-directory test-package PG=$$m || exit 1; \
	done
	@echo "make test-all: all test suites passed on PostgreSQL $(MAJORS)"

# The suites that run on every major.
test-major: lint test-unit test-regress test-errors test-ledger test-proofs test-attempts test-replication test-robustness test-python test-pooler
	@echo "== every suite passed on PostgreSQL $(PG)"

test-unit: deps
	mkdir -p $(PGRX_TEST_DATA) && chown postgres:postgres $(PGRX_TEST_DATA) 2>/dev/null || sudo chown postgres:postgres $(PGRX_TEST_DATA)
	cargo pgrx test pg$(PG) --runas postgres --pgdata $(PGRX_TEST_DATA)/pg$(PG)

# The server exactly as it was: errors keep every field with lead_audit
# preloaded and every table audited; no Rust frame reaches a client.
test-errors: install-debug
	bash tests/run_errors.sh

test-regress: install-debug
	bash tests/run_regress.sh

# The ledger end to end: concurrent writers and sealers, the background
# sealer, the independent verifier agreeing with verify_audit(), and the
# ledger across pg_dump and pg_restore into a new cluster.
test-ledger: install-debug
	bash tests/concurrency/run.sh
	bash tests/run_sealer.sh
	bash tests/run_verifier.sh
	bash tests/run_dump_restore.sh

# Failed attempts recorded by the attempts writer (a preloaded cluster).
test-attempts: install-debug
	bash tests/run_attempts.sh

# Capture in replica mode and under logical replication (a wal_level=logical cluster).
test-replication: install-debug
	bash tests/run_replication.sh

# Immediate shutdowns mid-write, and every function and setting fed garbage.
test-robustness: install-debug
	bash tests/run_crash.sh
	bash tests/run_fuzz.sh

# The Merkle tree's receipts, consistency proofs, witnesses, tiles and
# signatures, checked by Go's sumdb/tlog and note and by the Python package.
test-proofs: install-debug
	bash tests/run_proofs.sh

# The upgrade paths from every release (each built once into ~/.cache/lead_audit).
# Leaves the current debug build installed.
test-upgrade: install-debug
	@for v in $$(python3 scripts/releases.py versions); do \
		echo "UPGRADE_FROM=$$v bash tests/upgrade/run.sh"; \
		UPGRADE_FROM=$$v bash tests/upgrade/run.sh || exit 1; \
	done

# The Python client built as a wheel into a fresh virtual environment, typed
# and tested, and the SQLAlchemy and FastAPI examples on it.
test-python: install-debug
	bash tests/run_python.sh

# The SQLAlchemy example's pooler tests behind PgBouncer in transaction mode.
test-pooler: install-debug
	bash tests/run_pgbouncer.sh

# The released versions' scripts are unchanged (sql/releases.txt).
test-releases: deps
	bash tests/run_releases.sh

# Every relative link of every Markdown page resolves.
test-docs:
	bash tests/run_links.sh

# The demo runs its story to the end, and every line fits 100 columns.
test-demo: install-debug
	bash tests/run_demo.sh

## Records the release of VERSION (Cargo.toml's) in sql/releases.txt, from
## the committed HEAD: CONTRIBUTING.md, "Releasing".
release-record: deps
	@test -n "$(VERSION)" || { echo "usage: make release-record VERSION=X.Y.Z" >&2; exit 2; }
	@test "$(VERSION)" = "$$(sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -1)" || \
		{ echo "Cargo.toml's version is not $(VERSION)" >&2; exit 2; }
	@git diff --quiet HEAD || { echo "commit first: the record names the release's commit" >&2; exit 2; }
	cargo pgrx schema pg$(PG) --no-default-features --features pg$(PG) -o target/lead_audit--$(VERSION).sql
	python3 scripts/releases.py record $(VERSION) $$(git rev-parse HEAD) target/lead_audit--$(VERSION).sql >>sql/releases.txt
	@echo "recorded $(VERSION) in sql/releases.txt: commit it, then tag v$(VERSION)"

# Builds the Debian package, installs it with dpkg, uses it, removes it.
test-package: deps
	bash tests/run_package.sh

# Cargo.toml denies unsafe operations in unsafe fns without an unsafe block
# (unsafe_op_in_unsafe_fn) and unsafe blocks without a SAFETY comment
# (clippy's undocumented_unsafe_blocks).
lint: deps
	cargo fmt --check
	cargo clippy --all-targets --no-default-features --features pg$(PG) -- -D warnings

## Side-by-side benchmarks (not part of `make test`).
bench: install
	bash bench/run.sh

## Instructions per statement under valgrind: deterministic where times are
## noisy. `make bench-instructions AB="OLD.so NEW.so"` compares two builds.
bench-instructions: install
	bash bench/instructions.sh $(AB)

clean:
	cargo clean
