GO ?= go
BUILD := build
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build test bench demo lint fuzz clean

all: build

build:
	$(GO) build -o $(BUILD)/osqdetect ./cmd/osqdetect
	cp $(BUILD)/osqdetect $(BUILD)/osqdetect.ext

test: build
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	rm -rf $(BUILD)
