# layercache build and test entry points. `make help` lists the targets.
#
# Every target works from a fresh clone on a Debian machine that has only Go
# (and gcc, for -race). Tools that are not Go packages of this module are
# installed on demand: redis-server from Debian's packages
# (hack/install-redis.sh), golangci-lint built from the Go module proxy into
# TOOLS_BIN, a cache directory outside the repository.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --warn-undefined-variables

GO ?= go
GOFMT ?= gofmt

## Packages the test, vet, cover and build targets work on.
PKGS ?= ./...
## Directories searched for nested Go modules (own go.mod) that test and test-modules also run.
MODULE_DIRS ?= pkg/cache bench
## Directories whose Go files fmt-check and fmt cover (the whole tree by default).
FMT_DIRS ?= .
## Flags for `go test` in the test target (-p 2 keeps a 2-core machine usable).
GOTEST_FLAGS ?= -race -count=1 -timeout 20m -p 2

## Benchmarks: regexp, packages, CPU list, count and time per benchmark.
BENCH ?= .
PKG ?= ./pkg/...
BENCH_CPU ?= 1,2
BENCH_COUNT ?= 1
BENCHTIME ?= 1s

## Fuzzing: time per target, packages to search for Fuzz targets, name filter.
FUZZTIME ?= 30s
FUZZ_PKGS ?= ./...
FUZZ ?= .

## Where tools built from the module proxy are cached (outside the repo).
TOOLS_BIN ?= $(HOME)/.cache/layercache/bin
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT := $(TOOLS_BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

COVERPROFILE ?= cover.out

## The Helm chart that helm-sync, helm-lint and helm-test work on.
HELM_CHART ?= charts/layercache

## envtest: how long the test control plane (kube-apiserver, etcd) may take to start on a slow machine.
ENVTEST_START_TIMEOUT ?= 120s

# Tests use this Redis instead of starting their own redis-server when set.
LAYERCACHE_TEST_REDIS_URL ?=

# Go files to format-check: everything in the tree except VCS data, vendored
# code and test fixtures.
GO_FILES_CMD := find $(FMT_DIRS) -type f -name '*.go' -not -path '*/.git/*' -not -path '*/vendor/*' -not -path '*/testdata/*' -print0

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN { FS = ":.*## "; print "Usage: make <target> [VAR=value ...]" } \
		/^[a-zA-Z0-9_-]+:.*## / { printf "  %-14s %s\n", $$1, $$2 } \
		/^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
	@printf '\nVariables (current value)\n'
	@printf '  %-26s %s\n' \
		PKGS '$(PKGS)' FMT_DIRS '$(FMT_DIRS)' ENVTEST_START_TIMEOUT '$(ENVTEST_START_TIMEOUT)' \
		GOTEST_FLAGS '$(GOTEST_FLAGS)' \
		BENCH '$(BENCH)' PKG '$(PKG)' BENCH_CPU '$(BENCH_CPU)' BENCH_COUNT '$(BENCH_COUNT)' BENCHTIME '$(BENCHTIME)' \
		FUZZTIME '$(FUZZTIME)' FUZZ_PKGS '$(FUZZ_PKGS)' FUZZ '$(FUZZ)' \
		TOOLS_BIN '$(TOOLS_BIN)' GOLANGCI_LINT_VERSION '$(GOLANGCI_LINT_VERSION)' \
		COVERPROFILE '$(COVERPROFILE)' \
		LAYERCACHE_TEST_REDIS_URL '$(or $(LAYERCACHE_TEST_REDIS_URL),(unset: tests start their own redis-server))'

##@ Test

.PHONY: test
test: redis vet fmt-check ## What CI runs: install redis-server and build envtest binaries if missing, vet, gofmt check, go test -race (root and nested modules).
	assets="$$(bash hack/envtest-bins.sh)"; \
	KUBEBUILDER_ASSETS="$$assets" KUBEBUILDER_CONTROLPLANE_START_TIMEOUT=$(ENVTEST_START_TIMEOUT) \
		$(GO) test $(GOTEST_FLAGS) $(PKGS)
	GO='$(GO)' GOTEST_FLAGS='$(GOTEST_FLAGS)' bash hack/test-modules.sh $(MODULE_DIRS)

.PHONY: test-modules
test-modules: redis ## Vet and test the nested modules (framework integrations, bench/).
	GO='$(GO)' GOTEST_FLAGS='$(GOTEST_FLAGS)' bash hack/test-modules.sh $(MODULE_DIRS)

.PHONY: redis
redis: ## Install Debian's redis-server if it is not on PATH.
	bash hack/install-redis.sh

.PHONY: cover
cover: redis ## Run the tests with coverage; writes COVERPROFILE and prints the total.
	assets="$$(bash hack/envtest-bins.sh)"; \
	KUBEBUILDER_ASSETS="$$assets" KUBEBUILDER_CONTROLPLANE_START_TIMEOUT=$(ENVTEST_START_TIMEOUT) \
		$(GO) test $(GOTEST_FLAGS) -covermode=atomic -coverprofile=$(COVERPROFILE) $(PKGS)
	$(GO) tool cover -func=$(COVERPROFILE) | tail -n 1

.PHONY: bench
bench: redis ## Run benchmarks: BENCH regexp over PKG, -cpu BENCH_CPU, -count BENCH_COUNT.
	$(GO) test -run='^$$' -bench='$(BENCH)' -benchmem -benchtime=$(BENCHTIME) -cpu $(BENCH_CPU) -count $(BENCH_COUNT) $(PKG)

.PHONY: fuzz
fuzz: ## Run every Fuzz target in FUZZ_PKGS (matching FUZZ) for FUZZTIME each.
	GO='$(GO)' FUZZTIME='$(FUZZTIME)' FUZZ='$(FUZZ)' bash hack/fuzz.sh $(FUZZ_PKGS)

##@ Code quality

.PHONY: fmt
fmt: ## Format all Go files in place with gofmt -s.
	$(GO_FILES_CMD) | xargs -0 -r $(GOFMT) -s -w

.PHONY: fmt-check
fmt-check: ## Fail if gofmt -s would change any Go file.
	@files="$$($(GO_FILES_CMD) | xargs -0 -r $(GOFMT) -s -l)"; \
	if [ -n "$$files" ]; then \
		echo "gofmt: these files are not formatted (run 'make fmt'):" >&2; \
		echo "$$files" >&2; \
		exit 1; \
	fi; \
	echo "gofmt: ok"

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet $(PKGS)

.PHONY: lint
lint: fmt-check vet $(GOLANGCI_LINT) ## gofmt check, go vet and golangci-lint (built into TOOLS_BIN on first use).
	$(GOLANGCI_LINT) config verify
	$(GOLANGCI_LINT) run $(PKGS)

.PHONY: lint-fix
lint-fix: $(GOLANGCI_LINT) ## Run golangci-lint with --fix.
	$(GOLANGCI_LINT) run --fix $(PKGS)

.PHONY: lint-tools
lint-tools: $(GOLANGCI_LINT) ## Build golangci-lint GOLANGCI_LINT_VERSION into TOOLS_BIN if missing.
	@echo "golangci-lint: $(GOLANGCI_LINT)"

.PHONY: tidy-check
tidy-check: ## Fail if `go mod tidy` would change go.mod or go.sum.
	@if ! $(GO) mod tidy -diff; then \
		echo "go.mod/go.sum are not tidy: run 'go mod tidy' and commit the result" >&2; \
		exit 1; \
	fi; \
	echo "go mod tidy: ok"

##@ Kubernetes

.PHONY: envtest-bins
envtest-bins: ## Build kube-apiserver and etcd for envtest from the Go module proxy if missing; print their directory.
	bash hack/envtest-bins.sh

.PHONY: manifests
manifests: ## Generate the CRDs, RBAC and webhook manifests under config/ with controller-gen, and copy them into the Helm chart.
	cg="$$(bash hack/tools-bins.sh controller-gen)"; \
	"$$cg" crd paths=./api/... output:crd:artifacts:config=config/crd/bases; \
	"$$cg" rbac:roleName=manager-role paths=./internal/... output:rbac:artifacts:config=config/rbac; \
	"$$cg" webhook paths=./internal/webhook/... output:webhook:artifacts:config=config/webhook; \
	bash hack/helm-sync.sh $(HELM_CHART)

.PHONY: generate
generate: ## Generate the DeepCopy methods of api/ with controller-gen.
	cg="$$(bash hack/tools-bins.sh controller-gen)"; \
	"$$cg" object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: generate-check
generate-check: ## Fail if the generated code, manifests or chart files are stale.
	$(MAKE) --no-print-directory generate manifests
	@if ! git diff --quiet -- api config charts || [ -n "$$(git ls-files --others --exclude-standard -- api config charts)" ]; then \
		git --no-pager diff --stat -- api config charts >&2; git ls-files --others --exclude-standard -- api config charts >&2; \
		echo "generated files are stale: run 'make generate manifests' and commit the result" >&2; exit 1; \
	fi; \
	echo "generated files: ok"

.PHONY: helm-sync
helm-sync: ## Copy the generated CRDs and RBAC rules into the Helm chart.
	bash hack/helm-sync.sh $(HELM_CHART)

.PHONY: helm-lint
helm-lint: ## helm lint --strict the chart: defaults, every feature on, CRDs and webhook off.
	helm="$$(bash hack/tools-bins.sh helm)"; \
	"$$helm" lint --strict $(HELM_CHART); \
	"$$helm" lint --strict $(HELM_CHART) --set webhook.certManager.enabled=true --set networkPolicy.enabled=true \
		--set serviceMonitor.enabled=true --set grafanaDashboard.enabled=true; \
	"$$helm" lint --strict $(HELM_CHART) --set crds.install=false --set webhook.enabled=false

.PHONY: helm-test
helm-test: ## Chart tests (test/chart): lint, render matrix, values schema, helm-sync drift.
	HELM="$$(bash hack/tools-bins.sh helm)" $(GO) test -count=1 ./test/chart/

.PHONY: run
run: ## Run the operator against the current kubeconfig, without the webhook, talking plain HTTP to agents (development).
	$(GO) run ./cmd/manager --agent-insecure --webhook=false --metrics-bind-address=0

##@ Verify

.PHONY: verify
verify: tidy-check fmt-check generate-check ## Fail if go mod tidy, gofmt or the generators would change the tree.

##@ Build

.PHONY: build
build: ## Build every package.
	$(GO) build $(PKGS)

.PHONY: demo
demo: redis ## Start a local control plane (kube-apiserver, etcd, the chart, the manager, two agents, Redis) and print what to try; Ctrl-C stops it.
	assets="$$(bash hack/envtest-bins.sh)"; \
	KUBEBUILDER_ASSETS="$$assets" KUBEBUILDER_CONTROLPLANE_START_TIMEOUT=$(ENVTEST_START_TIMEOUT) $(GO) run ./test/e2e/demo

.PHONY: demo-engine
demo-engine: ## Run the engine quickstart example (memory + disk, no Kubernetes).
	$(GO) run ./examples/quickstart

.PHONY: clean
clean: ## Remove build and coverage output from the repo (not the tool cache).
	rm -rf bin/ $(COVERPROFILE)

.PHONY: clean-tools
clean-tools: ## Remove the golangci-lint binaries cached in TOOLS_BIN.
	rm -f $(TOOLS_BIN)/golangci-lint $(TOOLS_BIN)/golangci-lint-*

# golangci-lint is installed under a versioned name (and linked to the plain
# name), so changing GOLANGCI_LINT_VERSION builds the new version once.
$(GOLANGCI_LINT):
	@mkdir -p '$(TOOLS_BIN)'
	@echo "building golangci-lint $(GOLANGCI_LINT_VERSION) into $(TOOLS_BIN) (takes a few minutes, once)"
	tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	GOBIN="$$tmp" GOFLAGS= $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); \
	mv "$$tmp/golangci-lint" '$(GOLANGCI_LINT)'
	ln -sf '$(notdir $(GOLANGCI_LINT))' '$(TOOLS_BIN)/golangci-lint'
