GO ?= go
BUILD := build
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHSTAT := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
BENCHCOUNT ?= 6
BENCHPKGS ?= ./detect/... ./extension/... ./tables/... ./fleet/... ./tests/...
FUZZTIME ?= 10s

.PHONY: all build test crash bench bench-scan bench-compare bench-memory bench-scaling benchstat demo demo-scan lint fuzz soak clean

all: build

build:
	$(GO) build -o $(BUILD)/osqdetect ./cmd/osqdetect
	cp $(BUILD)/osqdetect $(BUILD)/osqdetect.ext
	$(GO) build -o $(BUILD)/osqcore ./tests/osqcore/cmd/osqcore

test: build
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

# Crash-equivalence, the long loop: the real extension killed inside every
# commit of the crash scenario (and while commits are written), several
# times in one run, from outside, and with osqueryd restarting; each run must
# end with exactly the uninterrupted run's alerts. make test runs a short
# version. CRASH_COMMITS bounds the commits tried (default 45).
CRASH_COMMITS ?= 45
crash: build
	OSQDETECT_CRASH_LONG=1 OSQDETECT_CRASH_COMMITS=$(CRASH_COMMITS) $(GO) test -count=1 -timeout 4h -run 'TestCrash' ./tests/e2e/

# Go benchmarks with allocation counts; results go to build/bench.txt.
# -p 1 runs one package's benchmarks at a time, so that they do not share
# the CPUs with another package's.
# Compare two runs with: make benchstat OLD=old.txt NEW=build/bench.txt
bench:
	@mkdir -p $(BUILD)
	$(GO) test -p 1 -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) $(BENCHPKGS) | tee $(BUILD)/bench.txt

# scan end to end (bytes of a generated 20-host results log in, alerts
# out), one CPU, seed rules and every corpus rule.
bench-scan:
	@mkdir -p $(BUILD)
	$(GO) test -run '^$$' -bench 'Scan' -benchmem -cpu 1 -count $(BENCHCOUNT) ./cmd/osqdetect | tee $(BUILD)/bench-scan.txt

# scan against SQLite's JSON functions on the same generated log: same
# alerts, CPU of each and their ratio, and scan's wall time with every CPU
# against one, in COMPARE_RUNS rounds (medians printed). Needs Debian's
# sqlite3 CLI (apt-get install -y sqlite3).
COMPARE_ROWS ?= 300000
COMPARE_RUNS ?= 5
bench-compare: build
	$(GO) run ./internal/benchcompare -osqdetect $(BUILD)/osqdetect -rows $(COMPARE_ROWS) -cpus -runs $(COMPARE_RUNS)

# scan of a dense host (one host, 2M rows at 10,000 rows/s, the default
# reorder window): max RSS must stay within 256 MB.
bench-memory: build
	$(GO) run ./internal/benchcompare -osqdetect $(BUILD)/osqdetect -memory

# scan's CPU per row and RSS for logs of 10^5, 10^6 and 10^7 rows, streamed
# through stdin, one CPU.
SCALING ?= 100000,1000000,10000000
bench-scaling: build
	$(GO) run ./internal/benchcompare -osqdetect $(BUILD)/osqdetect -scaling $(SCALING)

benchstat:
	$(GO) run $(BENCHSTAT) $(OLD) $(NEW)

# The real extension under a flood of 10,000 events/s over 100,000 live
# processes for SOAKTIME, then idle: its resident memory curve, the 128 MiB
# bound and memory returned when idle (make test runs 5 s over 20,000 pids).
SOAKTIME ?= 5m
soak:
	OSQDETECT_SOAK=$(SOAKTIME) $(GO) test -count=1 -v -timeout 2h -run '^TestFloodMemory$$' ./tests/e2e/ 2>&1 \
		| grep -E '^ +[0-9hms.]+ +rss|memory curve|^(--- |ok|FAIL|PASS)|soak_test.go'

# The product end to end: a stand-in osqueryd replays a recorded attack
# scenario, the real extension attaches over the socket, and the alerts
# table is printed. The stand-in's and the extension's logs go to a file,
# shown only when the demo fails.
demo: build
	@tmp=$$(mktemp -d /tmp/osqdetect-demo.XXXXXX); \
	OSQDETECT_STATE_DIR=$$tmp/state OSQDETECT_CONFIG=$$tmp/none.conf \
	$(BUILD)/osqcore --socket $$tmp/osquery.em \
		--replay tests/scenarios/demo.jsonl \
		--extension $(BUILD)/osqdetect.ext --wait-for osqdetect \
		--query "SELECT datetime(time, 'unixepoch') AS time, severity, rule_name, pid, process_executable, process_command_line, parent_name, CASE WHEN destination_ip = '' THEN '' ELSE destination_ip || ':' || destination_port END AS destination FROM alerts ORDER BY time" \
		2>$$tmp/demo.log; \
	status=$$?; if [ $$status -ne 0 ]; then cat $$tmp/demo.log >&2; fi; rm -rf $$tmp; exit $$status

# The same rules over a recorded osquery results log.
demo-scan: build
	$(BUILD)/osqdetect scan --format table tests/scenarios/demo-results.log

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# A short run of every fuzz target (go test runs one target at a time).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf $(BUILD)
