# cnv — see README.md. Every target works on a fresh clone with Go installed.

GO        ?= go
BIN       := bin/cnv-node
PKGS      := ./...
# Packages whose concurrency matters most; the race detector is slow on two
# cores, so it runs on these only, with a bounded time.
RACE_PKGS ?= ./runtime/... ./fsm/... ./cluster/... ./forward/... ./httpapi/... ./hot/... ./mux/...
FUZZTIME  ?= 10s
BENCHTIME ?= 1s
DATA_DIR  ?= ./data
# The version and commit cnv-node version prints (without them it falls
# back to the build info); the Go version comes from the build info.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)

.PHONY: all build test unit race lint deps-check run bench fuzz clean jepsen

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o $(BIN) ./cmd/cnv-node

## test: everything CI runs — lint, import direction, unit and system tests, race subset,
## and the short fault-injection suite.
test: lint deps-check unit race jepsen

unit: build
	$(GO) test -count=1 -timeout 15m $(PKGS)

race:
	$(GO) test -count=1 -race -timeout 10m $(RACE_PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

deps-check:
	$(GO) run ./scripts/depscheck

## run: a local 3-node cluster of real processes on loopback; a node that
## dies is reported and the others keep serving (UP_FLAGS=--restart-dead
## restarts it on its own).
UP_FLAGS ?=
run: build
	./scripts/run-cluster.sh $(DATA_DIR) $(UP_FLAGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

## fuzz: every fuzz target for FUZZTIME each.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

## jepsen: a short fault-injection suite against real cnv-node processes
## (jepsen/); the report path is the last line. Longer campaigns:
##   go run ./jepsen --scenario all --runs 100 --duration 60s --nodes 5
JEPSEN_SCENARIOS ?= partition-leader,partition-oneway-leader,kill-leader,pause-leader,links-reset,revocation,membership
JEPSEN_DURATION  ?= 15s
JEPSEN_SEED      ?= 1
jepsen:
	$(GO) run ./jepsen --scenario $(JEPSEN_SCENARIOS) --duration $(JEPSEN_DURATION) --nodes 3 --seed $(JEPSEN_SEED)

clean:
	rm -rf bin
