# Opal: opal-server and opal-device in C11 on the gRPC C core.
#
#   make            build build/opal-server, build/opal-device and the unit tests
#   make run        install missing packages, build both programs, serve on
#                   0.0.0.0:50051 with the bundled sounds; LISTEN=HOST:PORT
#                   serves elsewhere (make run LISTEN=127.0.0.1:0: a free port)
#   make test       install, build (normal and ASan+UBSan), run every test;
#                   SUITE="unit interop" runs only those suites
#                   (tests/run-tests.sh --list names them), NO_ASAN=1 skips
#                   the ASan+UBSan build and pass; logs of failed suites are
#                   kept in build/test-logs/<time>/
#   make bench      server + fleet scenarios, with sqlite/redis stores and
#                   nginx (15-16 min, at most ~17); make bench-quick (~3 min)
#   make bench-device  device audio latency, RSS and CPU
#   make clean
#   make V=1        show full compiler command lines
#
# Sanitizer builds live in build/asan/ and are made by calling this Makefile
# again with BUILD=build/asan SANITIZE=1.

BUILD    ?= build
SANITIZE ?= 0
LISTEN   ?= 0.0.0.0:50051
SUITE    ?=
NO_ASAN  ?= 0
GEN      := build/gen

CC       ?= cc
CXX      ?= c++
V        ?= 0
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
Q        := $(if $(filter 1,$(V)),,@)
PKGS     := grpc libprotobuf-c opus ogg sndfile samplerate sqlite3 hiredis libcrypto
DEV_PKGS := portaudio-2.0 libgpiod inih
CPPFLAGS += -Ishared -I$(GEN) -D_POSIX_C_SOURCE=200809L
CFLAGS   += -std=c11 -Wall -Wextra -Werror -g $(shell pkg-config --cflags $(PKGS) $(DEV_PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lm -lpthread
DEV_LIBS := $(shell pkg-config --libs $(DEV_PKGS))

# C++ only where gRPC core's interface is C++ (server/net/grpc_handoff.cc).
CXXFLAGS += -std=c++17 -Wall -Wextra -Werror -g -fno-exceptions -fno-rtti $(shell pkg-config --cflags grpc)

ifeq ($(SANITIZE),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
CXXFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
CFLAGS  += -O2
CXXFLAGS += -O2
endif

SHARED_SRC := $(wildcard shared/*.c)
SERVER_SRC := $(filter-out server/main.c,$(shell find server -name '*.c'))
DEVICE_SRC := $(filter-out device/main.c,$(shell find device -name '*.c'))
PY_GEN     := $(GEN)/python/comms_pb2.py

SHARED_OBJ := $(SHARED_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/comms.pb-c.o
SERVER_CXX := $(shell find server -name '*.cc')
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o) $(SERVER_CXX:%.cc=$(BUILD)/obj/%.o)
DEVICE_OBJ := $(DEVICE_SRC:%.c=$(BUILD)/obj/%.o)
# Programs and tests link static archives, so a test pulls in only the
# objects it uses (and their libraries' symbols).
SHARED_LIB := $(BUILD)/libopal-shared.a
SERVER_LIB := $(BUILD)/libopal-server.a
DEVICE_LIB := $(BUILD)/libopal-device.a

# Unit tests: tests/unit/<program>/test_*.c -> $(BUILD)/tests/<program>/test_*
UNIT_SRC   := $(wildcard tests/unit/*/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
PROGRAMS   := $(BUILD)/opal-server $(BUILD)/opal-device

.PHONY: all deps test-deps run test asan bench bench-quick bench-device clean
.DEFAULT_GOAL := all
.SECONDARY:

# tests/audio/play_file plays an Ogg Opus file through the device's audio
# player (for tests/audio/test_portaudio.py), read with the server's reader.
AUDIO_TEST_BIN := $(BUILD)/tests/audio/play_file
# tests/tui/term_demo runs the terminal back end alone (tests/tui/test_tui.py);
# normal build only: it crashes on purpose, which a sanitizer would report.
TERM_DEMO_BIN  := $(BUILD)/tests/tui/term_demo

all: $(PROGRAMS) $(UNIT_BIN) $(AUDIO_TEST_BIN) $(TERM_DEMO_BIN) $(PY_GEN)

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh --tests

# Both programs, so that build/opal-device --sim (the README's next step)
# is there for the second terminal.
run: deps
	@$(MAKE) --no-print-directory -j$(JOBS) $(PROGRAMS)
	$(BUILD)/opal-server --listen $(LISTEN) --assets assets

# The ASan+UBSan build is skipped with NO_ASAN=1, or when SUITE names only
# suites that run on the normal build alone.
NORMAL_ONLY_SUITES := quickstart valgrind
WANT_ASAN := $(if $(filter 1,$(NO_ASAN)),,$(if $(SUITE),$(filter-out $(NORMAL_ONLY_SUITES),$(SUITE)),yes))

test:
	@tests/run-tests.sh --check $(SUITE)
	@scripts/install-deps.sh --tests
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@$(if $(WANT_ASAN),$(MAKE) --no-print-directory -j$(JOBS) asan,true)
	@tests/run-tests.sh $(if $(filter 1,$(NO_ASAN)),--no-asan) $(SUITE)

# Server and fleet on this machine: the scenario table of docs/performance.md.
bench: test-deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@/usr/bin/python3 tests/bench/bench.py

bench-quick: test-deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@/usr/bin/python3 tests/bench/bench.py --quick

# Device audio figures: press -> first sample through PortAudio into a
# PulseAudio null sink, and the device's RSS and CPU while playing.
bench-device: test-deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@/usr/bin/python3 tests/bench/device_audio.py

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 $(PROGRAMS:$(BUILD)/%=build/asan/%) $(UNIT_BIN:$(BUILD)/%=build/asan/%) $(AUDIO_TEST_BIN:$(BUILD)/%=build/asan/%)

# Generated code: protobuf-c for C, protoc for the Python interop test.
$(GEN)/comms.pb-c.c $(GEN)/comms.pb-c.h &: proto/comms.proto
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

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	@echo "  CXX     $@"
	$(Q)$(CXX) $(CPPFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/server/%.o $(BUILD)/obj/tests/unit/server/%.o: CPPFLAGS += -Iserver
$(BUILD)/obj/device/%.o $(BUILD)/obj/tests/unit/device/%.o $(BUILD)/obj/tests/unit/gpio/%.o: CPPFLAGS += -Idevice
$(BUILD)/obj/tests/audio/%.o: CPPFLAGS += -Idevice -Iserver
$(BUILD)/obj/tests/tui/%.o: CPPFLAGS += -Idevice

$(SHARED_LIB): $(SHARED_OBJ)
$(SERVER_LIB): $(SERVER_OBJ)
$(DEVICE_LIB): $(DEVICE_OBJ)
$(SHARED_LIB) $(SERVER_LIB) $(DEVICE_LIB):
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/opal-server: $(BUILD)/obj/server/main.o $(SERVER_LIB) $(SHARED_LIB)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/opal-device: $(BUILD)/obj/device/main.o $(DEVICE_LIB) $(SHARED_LIB)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(DEV_LIBS) $(LDLIBS) -o $@

$(BUILD)/tests/server/test_%: $(BUILD)/obj/tests/unit/server/test_%.o $(SERVER_LIB) $(SHARED_LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/device/test_%: $(BUILD)/obj/tests/unit/device/test_%.o $(DEVICE_LIB) $(SHARED_LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(DEV_LIBS) $(LDLIBS) -lcmocka -o $@

# The gpio back end is tested against a stand-in for libgpiod with the same
# header (tests/unit/gpio/fake_gpiod.c), so these tests do not link -lgpiod.
$(BUILD)/tests/gpio/test_%: $(BUILD)/obj/tests/unit/gpio/test_%.o $(BUILD)/obj/tests/unit/gpio/fake_gpiod.o \
                            $(DEVICE_LIB) $(SHARED_LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(shell pkg-config --libs inih) $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/audio/play_file: $(BUILD)/obj/tests/audio/play_file.o \
    $(BUILD)/obj/server/sounds/ogg_opus_reader.o $(BUILD)/obj/server/sounds/sound.o $(DEVICE_LIB) $(SHARED_LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(DEV_LIBS) $(LDLIBS) -o $@

$(BUILD)/tests/tui/term_demo: $(BUILD)/obj/tests/tui/term_demo.o $(DEVICE_LIB) $(SHARED_LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
