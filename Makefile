# Opal: opal-server (and later opal-device) in C11 on the gRPC C core.
#
#   make            build build/opal-server
#   make run        install missing packages, build, serve on 0.0.0.0:50051
#   make test       install, build (normal and ASan+UBSan), run every test
#   make clean
#   make V=1        show full compiler command lines
#
# Sanitizer builds live in build/asan/ and are made by calling this Makefile
# again with BUILD=build/asan SANITIZE=1.

BUILD    ?= build
SANITIZE ?= 0
GEN      := build/gen

CC       ?= cc
V        ?= 0
Q        := $(if $(filter 1,$(V)),,@)
PKGS     := grpc libprotobuf-c opus ogg sndfile samplerate
CPPFLAGS += -Ishared -Iserver -I$(GEN) -D_POSIX_C_SOURCE=200809L
CFLAGS   += -std=c11 -Wall -Wextra -Werror -g $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lm -lpthread

ifeq ($(SANITIZE),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
CFLAGS  += -O2
endif

SHARED_SRC := $(wildcard shared/*.c)
SERVER_SRC := $(filter-out server/main.c,$(wildcard server/*.c))
PROTO_C    := $(GEN)/comms.pb-c.c
PY_GEN     := $(GEN)/python/comms_pb2.py

SHARED_OBJ := $(SHARED_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/comms.pb-c.o
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run test check unit asan clean
.DEFAULT_GOAL := all
.SECONDARY:

all: $(BUILD)/opal-server $(UNIT_BIN) $(PY_GEN)

deps:
	@scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory $(BUILD)/opal-server
	$(BUILD)/opal-server --listen 0.0.0.0:50051 --assets assets

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory asan
	@tests/run-tests.sh

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 build/asan/opal-server $(UNIT_BIN:$(BUILD)/%=build/asan/%)

# Generated code: protobuf-c for C, protoc for the Python interop test.
$(GEN)/comms.pb-c.c $(GEN)/comms.pb-c.h: proto/comms.proto
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) -Iproto $<

$(PY_GEN): proto/comms.proto
	@mkdir -p $(GEN)/python
	protoc --python_out=$(GEN)/python -Iproto $<

$(BUILD)/obj/gen/comms.pb-c.o: $(GEN)/comms.pb-c.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c $(GEN)/comms.pb-c.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/opal-server: $(BUILD)/obj/server/main.o $(SERVER_OBJ) $(SHARED_OBJ)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(SERVER_OBJ) $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
