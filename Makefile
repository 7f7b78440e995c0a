GO ?= go
BUILD := build
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHSTAT := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
BENCHCOUNT ?= 6
BENCHPKGS ?= ./detect/... ./extension/... ./tables/... ./fleet/... ./tests/...
FUZZTIME ?= 10s

.PHONY: all build test crash bench benchstat demo demo-scan lint fuzz clean

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

benchstat:
	$(GO) run $(BENCHSTAT) $(OLD) $(NEW)

# The product end to end: a stand-in osqueryd replays a recorded attack
# scenario, the real extension attaches over the socket, and the alerts
# table is printed.
demo: build
	@tmp=$$(mktemp -d /tmp/osqdetect-demo.XXXXXX); \
	OSQDETECT_STATE_DIR=$$tmp/state OSQDETECT_CONFIG=$$tmp/none.conf \
	$(BUILD)/osqcore --socket $$tmp/osquery.em \
		--replay tests/scenarios/demo.jsonl \
		--extension $(BUILD)/osqdetect.ext --wait-for osqdetect \
		--query "SELECT datetime(time, 'unixepoch') AS time, severity, rule_name, pid, process_executable, process_command_line, parent_name, CASE WHEN destination_ip = '' THEN '' ELSE destination_ip || ':' || destination_port END AS destination FROM alerts ORDER BY time"; \
	status=$$?; rm -rf $$tmp; exit $$status

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
