# Junction build, run and test entry points. `make run` and `make test` are
# the two commands a newcomer needs.

GO       ?= go
BIN      := bin
DATA     ?= ./data
LISTEN   ?= localhost:7400
PROTOC_GEN_GO_VERSION         := v1.36.10
PROTOC_GEN_CONNECT_GO_VERSION := v1.19.1
PROTOC_GEN_GO_GRPC_VERSION    := v1.6.2

.PHONY: all build publish run run-cluster test test-short test-cluster bench bench-compare perf-report proto fuzz vet vet-bench fmt clean screenshots

all: build

CONNECTORS := $(notdir $(wildcard connectors/*))

# gosnowflake (connectors/snowflake) would otherwise embed a native library
# that it writes to a cache directory and dlopens at start-up; the tag
# leaves it out of every binary and test built here.
export GOFLAGS := $(strip $(GOFLAGS) -tags=minicore_disabled)

## build: compile the junction binary and the connector plugins into bin/,
##        then publish the plugins to the local first-party catalog
##        dist/catalog (signed with dist/keys/first-party.key, whose public
##        key is built into bin/junction)
KEY      := dist/keys/first-party.key
CATALOG  := dist/catalog
BUILDPKG := github.com/junctionhq/junction/internal/buildinfo

build: $(KEY)
	$(GO) build -ldflags "-X $(BUILDPKG).FirstPartyKey=$$(cat $(KEY).pub) -X $(BUILDPKG).Commit=$$(git rev-parse --short HEAD 2>/dev/null)" -o $(BIN)/junction ./cmd/junction
	@failed=""; for c in $(CONNECTORS); do \
		echo "$(GO) build -o $(BIN)/plugins/$$c ./connectors/$$c"; \
		$(GO) build -o $(BIN)/plugins/$$c ./connectors/$$c || failed="$$failed $$c"; \
	done; \
	$(MAKE) --no-print-directory publish || exit 1; \
	if [ -n "$$failed" ]; then echo "connectors that did not build:$$failed"; exit 1; fi

# The first-party key pair, made once; dist/ is not in git.
$(KEY):
	$(GO) run ./cmd/junction hub keygen --out $(KEY)

## publish: sign every built plugin in bin/plugins into dist/catalog
##          (--force: a rebuilt plugin replaces the one published under the
##          same version; this catalog is a local build product)
publish: $(KEY)
	@plugins=$$(find $(BIN)/plugins -maxdepth 1 -type f -perm -u+x 2>/dev/null); \
	if [ -n "$$plugins" ]; then \
		$(BIN)/junction hub publish --catalog $(CATALOG) --key $(KEY) --force $$plugins; \
	fi

## run: build and start a single-node broker with data under ./data
run: build
	$(BIN)/junction server --data $(DATA) --listen $(LISTEN)

## run-cluster: build, then run a 3-node cluster on localhost until
##              interrupted: APIs on 7400, 7410 and 7420, raft on 7401,
##              7411 and 7421, data under $(DATA)-cluster/
run-cluster: build
	@trap 'kill 0' INT TERM; \
	for i in 1 2 3; do \
		join=""; [ $$i = 1 ] || join="--join localhost:7400"; \
		$(BIN)/junction server --data $(DATA)-cluster/n$$i --listen localhost:$$((7390 + $$i * 10)) \
			--node-id n$$i --cluster-listen 127.0.0.1:$$((7391 + $$i * 10)) $$join & \
	done; \
	wait

## test-cluster: the cluster fault scenarios, with the 5-node and longer
##               ones the normal suite skips
test-cluster:
	JUNCTION_CLUSTER_LONG=1 $(GO) test -race -count=1 -timeout 20m -v ./internal/clustertest/

## test: vet and run the whole test suite with the race detector
test: vet
	$(GO) test -race -count=1 -timeout 12m ./...
	cd sdk && $(GO) test -race -count=1 -timeout 12m ./...

## test-short: the suite without the race detector and slow fault tests
test-short:
	$(GO) test -short -count=1 ./...
	cd sdk && $(GO) test -short -count=1 ./...

vet:
	@fmt_out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$fmt_out" ]; then echo "gofmt needed:"; echo "$$fmt_out"; exit 1; fi
	$(GO) vet ./...
	@# sdk/ is its own module (./... stops at its go.mod).
	cd sdk && $(GO) vet ./...

## vet-bench: vet the bench/ module, which downloads NATS from the Go
##            module proxy; kept out of 'make test', run by the bench targets
vet-bench:
	@# bench/ follows this module through a replace; -mod=mod lets its
	@# go.mod catch up when ours changes instead of failing the build.
	cd bench && $(GO) vet -mod=mod ./...

## bench: storage and end-to-end broker benchmarks with printed figures
##        (BENCHFLAGS passes flags to junction-bench, e.g. BENCHFLAGS='-duration 3s';
##        junction-bench's report is also saved to BENCHOUT, for perf-report)
BENCHOUT ?= $(BIN)/bench.txt
BENCH_ALL = connect,produce-1p,produce-4p,consume-ack,latency,r3-produce-1p,r3-latency,scale
bench: build vet-bench
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3s ./broker/seglog/
	$(GO) test -run '^$$' -bench . -benchmem ./broker/schema/
	$(GO) test -run '^$$' -bench ProduceSchema -benchtime 3000x ./broker/
	$(GO) test -run '^$$' -bench Sink -benchtime 1000000x ./plugin/
	$(GO) test -run '^$$' -bench . -benchtime 5x ./connectors/s3/
	$(GO) test -run '^$$' -bench . -benchtime 5x ./connectors/bigquery/
	$(GO) test -run '^$$' -bench ProduceWithDashboard -benchtime 3s ./server/
	$(GO) test -run '^$$' -bench . -benchtime 20x ./connectors/snowflake/
	$(GO) test -run '^$$' -bench 'Check|ProduceAuth' -benchtime 3s ./broker/auth/ ./server/
	cd bench && $(GO) run -mod=mod ./cmd/junction-bench -junction $(CURDIR)/$(BIN)/junction -workloads $(BENCH_ALL) -out $(abspath $(BENCHOUT)) $(BENCHFLAGS)

## screenshots: the dashboard screenshots in docs/ (drives chromium; not part of test)
screenshots:
	mkdir -p docs
	JUNCTION_SCREENSHOTS=$(CURDIR)/docs $(GO) test -count=1 -run '^TestDashboardScreenshots$$' -v ./server/

## bench-compare: the same workloads against Junction and embedded NATS JetStream
bench-compare: build vet-bench
	cd bench && $(GO) run -mod=mod ./cmd/junction-bench -junction $(CURDIR)/$(BIN)/junction -compare -out $(abspath $(BENCHOUT)) $(BENCHFLAGS)

## perf-report: one run of every workload against JetStream and Benthos
##              (about 8 minutes, on a quiet machine), then README.md's
##              performance section and docs/perf.svg rewritten from it;
##              PERF_IN=FILE rewrites them from a saved report instead
perf-report: build vet-bench
ifeq ($(PERF_IN),)
	cd bench && $(GO) run -mod=mod ./cmd/junction-bench -junction $(CURDIR)/$(BIN)/junction -compare -workloads $(BENCH_ALL) -out $(abspath $(BENCHOUT)) $(BENCHFLAGS)
endif
	cd bench && $(GO) run -mod=mod ./cmd/perfreport -in $(abspath $(or $(PERF_IN),$(BENCHOUT))) -readme $(CURDIR)/README.md -svg $(CURDIR)/docs/perf.svg

## proto: regenerate the Go code of api/ (into sdk/api) and of the connector
##        protocol sdk/proto (needs protoc; the generated code is committed)
proto:
	GOBIN=$(CURDIR)/$(BIN)/tools $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(CURDIR)/$(BIN)/tools $(GO) install connectrpc.com/connect/cmd/protoc-gen-connect-go@$(PROTOC_GEN_CONNECT_GO_VERSION)
	GOBIN=$(CURDIR)/$(BIN)/tools $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	PATH=$(CURDIR)/$(BIN)/tools:$$PATH protoc -I api \
		--go_out=sdk/api --go_opt=paths=source_relative \
		--connect-go_out=sdk/api --connect-go_opt=paths=source_relative \
		api/junction/v1/*.proto
	PATH=$(CURDIR)/$(BIN)/tools:$$PATH protoc -I sdk/proto \
		--go_out=sdk/proto/connectorv1 --go_opt=paths=source_relative \
		--go-grpc_out=sdk/proto/connectorv1 --go-grpc_opt=paths=source_relative \
		sdk/proto/connector.proto

## fuzz: run every fuzz target for FUZZTIME each (default 20s)
FUZZTIME ?= 20s
fuzz:
	@for mod in . sdk; do \
		for pkg in $$(cd $$mod && $(GO) list ./...); do \
			for f in $$(cd $$mod && $(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
				echo "== $$pkg $$f"; (cd $$mod && $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg) || exit 1; \
			done; \
		done; \
	done

clean:
	rm -rf $(BIN) $(CATALOG)
