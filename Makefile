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
#                   kept in build/test-logs/<time>/; the arm64 suite
#                   also installs the cross toolchain and builds ARCH=arm64
#   make bench      server + fleet scenarios, with sqlite/redis stores and
#                   nginx, packet sizes (19-22 min); make bench-quick (~4 min)
#   make bench-device  device audio latency, RSS and CPU
#   make fuzz       build the libFuzzer harnesses (tests/fuzz/, clang) and run
#                   each for FUZZ_SECONDS (60); docs/security.md#fuzzing
#   make ARCH=arm64 cross-build both programs for a Raspberry Pi into
#                   build/arm64/ (scripts/install-deps.sh --cross arm64);
#                   docs/raspberry-pi.md
#   make install    programs, sounds, systemd units, /etc/opal examples and
#                   man pages; PREFIX=/usr/local, DESTDIR= (docs/packaging.md)
#   make deb        build/opal-server_VERSION_ARCH.deb and opal-device_...deb
#                   (ARCH=arm64: from the cross build, build/arm64)
#   make clean
#   make V=1        show full compiler command lines
#
# Sanitizer builds live in build/asan/ and are made by calling this Makefile
# again with BUILD=build/asan SANITIZE=1.

# ARCH=arm64: Debian's cross toolchain (crossbuild-essential-arm64) and the
# :arm64 multiarch -dev packages, found by the target's pkg-config. Only the
# programs are built; protoc-c runs on this machine, so $(GEN) is shared.
ARCH     ?=
ifeq ($(ARCH),arm64)
BUILD      ?= build/arm64
CROSS      := aarch64-linux-gnu-
CC         := $(CROSS)gcc
CXX        := $(CROSS)g++
AR         := $(CROSS)ar
PKG_CONFIG := $(CROSS)pkg-config
DEB_ARCH   := arm64
ifeq ($(shell command -v $(CROSS)gcc >/dev/null && command -v $(PKG_CONFIG)),)
$(error ARCH=arm64: no $(CROSS)gcc or $(PKG_CONFIG); scripts/install-deps.sh --cross arm64 installs them)
endif
else ifeq ($(origin ARCH),command line)
ifneq ($(ARCH),)
$(error ARCH=$(ARCH): the only cross target is arm64 (leave ARCH out to build for this machine))
endif
endif
PKG_CONFIG ?= pkg-config

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
PKGS     := grpc libprotobuf-c opus ogg sndfile samplerate sqlite3 hiredis libcrypto libmicrohttpd
DEV_PKGS := portaudio-2.0 libgpiod
CPPFLAGS += -Ishared -I$(GEN) -D_POSIX_C_SOURCE=200809L
CFLAGS   += -std=c11 -Wall -Wextra -Werror -g $(shell $(PKG_CONFIG) --cflags $(PKGS) $(DEV_PKGS))
LDLIBS   += $(shell $(PKG_CONFIG) --libs $(PKGS)) -lm -lpthread
# shared/grpc_mutex_checks.cc calls absl directly (gRPC links it anyway).
LDLIBS   += $(shell $(PKG_CONFIG) --libs absl_synchronization)
DEV_LIBS := $(shell $(PKG_CONFIG) --libs $(DEV_PKGS))

# C++ only where gRPC core's interface is C++ (server/net/grpc_handoff.cc), or
# absl's (shared/grpc_mutex_checks.cc).
CXXFLAGS += -std=c++17 -Wall -Wextra -Werror -g -fno-exceptions -fno-rtti $(shell $(PKG_CONFIG) --cflags grpc)

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
PY_GEN     := $(GEN)/python/comms_pb2.py $(GEN)/python/health_pb2.py

SHARED_CXX := $(wildcard shared/*.cc)
SHARED_OBJ := $(SHARED_SRC:%.c=$(BUILD)/obj/%.o) $(SHARED_CXX:%.cc=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/comms.pb-c.o
SERVER_CXX := $(shell find server -name '*.cc')
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o) $(SERVER_CXX:%.cc=$(BUILD)/obj/%.o) \
              $(BUILD)/obj/gen/health.pb-c.o
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

.PHONY: all deps test-deps run test asan bench bench-quick bench-device fuzz fuzz-build print-fuzz-names clean
.DEFAULT_GOAL := all
.SECONDARY:

# tests/audio/play_file plays an Ogg Opus file through the device's audio
# player (for tests/audio/test_portaudio.py), read with the server's reader.
AUDIO_TEST_BIN := $(BUILD)/tests/audio/play_file
# tests/tui/term_demo runs the terminal back end alone (tests/tui/test_tui.py);
# normal build only: it crashes on purpose, which a sanitizer would report.
TERM_DEMO_BIN  := $(BUILD)/tests/tui/term_demo

# A cross build makes the programs only: the tests run on this machine.
all: $(PROGRAMS) $(if $(CROSS),,$(UNIT_BIN) $(AUDIO_TEST_BIN) $(TERM_DEMO_BIN) $(PY_GEN))

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
NORMAL_ONLY_SUITES := quickstart valgrind fuzz packaging arm64
WANT_ASAN := $(if $(filter 1,$(NO_ASAN)),,$(if $(SUITE),$(filter-out $(NORMAL_ONLY_SUITES),$(SUITE)),yes))
# The fuzz suite's harnesses are built with the rest, so its time is fuzzing.
WANT_FUZZ := $(if $(SUITE),$(filter fuzz,$(SUITE)),yes)
# The arm64 suite runs the cross build under qemu-aarch64.
WANT_ARM64 := $(if $(SUITE),$(filter arm64,$(SUITE)),yes)

test:
	@tests/run-tests.sh --check $(SUITE)
	@scripts/install-deps.sh --tests $(if $(WANT_ARM64),--cross arm64)
	@$(MAKE) --no-print-directory -j$(JOBS) all $(if $(WANT_FUZZ),$(FUZZ_BIN))
	@$(if $(WANT_ARM64),$(MAKE) --no-print-directory -j$(JOBS) ARCH=arm64,true)
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

# grpc.health.v1 (proto/health.proto): the server's health service.
$(GEN)/health.pb-c.c $(GEN)/health.pb-c.h &: proto/health.proto
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) -Iproto $<

$(GEN)/python/%_pb2.py: proto/%.proto
	@mkdir -p $(GEN)/python
	protoc --python_out=$(GEN)/python -Iproto $<

$(BUILD)/obj/gen/comms.pb-c.o $(BUILD)/obj/gen/health.pb-c.o: $(BUILD)/obj/gen/%.pb-c.o: $(GEN)/%.pb-c.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c $(GEN)/comms.pb-c.h $(GEN)/health.pb-c.h
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
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/opal-server: $(BUILD)/obj/server/main.o $(SERVER_LIB) $(SHARED_LIB)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The C++ objects also directly: an archive older than a new .cc's object
# (made before the .cc existed) is not remade under .SECONDARY.
$(BUILD)/opal-device: $(BUILD)/obj/device/main.o $(SHARED_CXX:%.cc=$(BUILD)/obj/%.o) $(DEVICE_LIB) \
    $(SHARED_LIB)
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
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/audio/play_file: $(BUILD)/obj/tests/audio/play_file.o \
    $(BUILD)/obj/server/sounds/ogg_opus_reader.o $(BUILD)/obj/server/sounds/sound.o $(DEVICE_LIB) $(SHARED_LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(DEV_LIBS) $(LDLIBS) -o $@

$(BUILD)/tests/tui/term_demo: $(BUILD)/obj/tests/tui/term_demo.o $(DEVICE_LIB) $(SHARED_LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# ---- libFuzzer harnesses: tests/fuzz/<name>.c -> build/fuzz/<name> ----
# Built with clang alone (libFuzzer is clang's); each links the project
# sources it exercises, compiled again here with coverage and sanitizers,
# and a stand-in for the gRPC call layer where the parser sits behind one
# (tests/fuzz/fake_*.c). docs/security.md#fuzzing has the list.
FUZZ_BUILD   := build/fuzz
FUZZ_CC      := clang
FUZZ_SECONDS ?= 60
FUZZ_NAMES   := server_device_event server_status_response server_audio_request server_metadata \
                server_ogg_opus server_device_machine \
                device_status_request device_audio_packet device_event_response \
                device_gpio_config device_script
FUZZ_BIN     := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/%)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -std=c11 -Wall -Wextra -Werror -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) \
                -fsanitize=fuzzer-no-link $(shell pkg-config --cflags $(PKGS) $(DEV_PKGS))
fuzz_obj      = $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(1))

FUZZ_PB         := shared/pb_buffer.c shared/log.c shared/wire.c $(GEN)/comms.pb-c.c
FUZZ_SERVER_RPC := tests/fuzz/fake_rpc_call.c $(FUZZ_PB)
FUZZ_DEVICE_RPC := tests/fuzz/fake_client_call.c $(FUZZ_PB)
FUZZ_PLAYER     := device/audio/audio_player.c device/audio/audio_out_pacer.c \
                   device/audio/audio_out_portaudio.c device/audio/jitter_buffer.c \
                   device/audio/portaudio_libs.c shared/clock.c

$(FUZZ_BUILD)/server_device_event: $(call fuzz_obj,server/calls/event_call.c server/metrics/metrics.c \
    server/metrics/histogram.c server/metrics/thread_shard.c \
    server/devices/device_machine.c server/devices/device_log_limit.c shared/clock.c \
    shared/device_id.c $(FUZZ_SERVER_RPC))
$(FUZZ_BUILD)/server_status_response: $(call fuzz_obj,server/calls/status_call.c \
    server/devices/device_log_limit.c shared/clock.c shared/device_id.c $(FUZZ_SERVER_RPC))
$(FUZZ_BUILD)/server_audio_request: $(call fuzz_obj,server/calls/audio_call.c \
    server/sounds/audio_packet.c $(FUZZ_SERVER_RPC))
$(FUZZ_BUILD)/server_metadata: $(call fuzz_obj,shared/metadata.c shared/device_id.c \
    server/devices/device_link.c)
$(FUZZ_BUILD)/server_ogg_opus: $(call fuzz_obj,server/sounds/ogg_opus_reader.c server/sounds/sound.c shared/packet_digest.c \
    tests/fuzz/fuzz_file.c)
# The machine runs with the harness's clock (tests/fuzz/server_device_machine.c),
# so shared/clock.c is left out.
$(FUZZ_BUILD)/server_device_machine: $(call fuzz_obj,server/devices/devices.c \
    server/devices/device_machine.c server/devices/device_store.c server/devices/device_link.c \
    server/devices/led_pattern.c server/devices/pacer.c server/devices/playback.c \
    server/devices/due_queue.c \
    server/devices/registry.c server/devices/device_log_limit.c server/devices/new_devices.c \
    server/devices/peer_key.c server/net/peer_address.c server/devices/token_bucket.c \
    server/calls/event_call.c server/calls/status_call.c \
    server/calls/audio_call.c server/sounds/audio_packet.c server/sounds/sound.c \
    $(wildcard server/store/*.c) server/metrics/metrics.c server/metrics/histogram.c \
    server/metrics/thread_shard.c shared/device_id.c shared/item_array.c shared/latency_samples.c \
    shared/packet_digest.c \
    $(FUZZ_SERVER_RPC))
$(FUZZ_BUILD)/device_status_request: $(call fuzz_obj,device/net/status_stream.c $(FUZZ_DEVICE_RPC))
$(FUZZ_BUILD)/device_audio_packet: $(call fuzz_obj,device/net/audio_stream.c device/net/audio_packet.c \
    shared/metadata.c $(FUZZ_PLAYER) \
    $(FUZZ_DEVICE_RPC))
$(FUZZ_BUILD)/device_event_response: $(call fuzz_obj,device/net/event_stream.c $(FUZZ_DEVICE_RPC))
$(FUZZ_BUILD)/device_gpio_config: $(call fuzz_obj,device/gpio/gpio_config.c shared/config_file.c shared/cli_args.c shared/log.c \
    shared/wire.c tests/fuzz/fuzz_file.c)
$(FUZZ_BUILD)/device_script: $(call fuzz_obj,device/script/script.c shared/cli_args.c \
    shared/wire.c tests/fuzz/fuzz_file.c)

$(FUZZ_BIN): $(FUZZ_BUILD)/%: $(FUZZ_BUILD)/obj/tests/fuzz/%.o
	@echo "  LINK    $@"
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) $^ $(DEV_LIBS) $(LDLIBS) -o $@

$(FUZZ_BUILD)/obj/%.o: %.c $(GEN)/comms.pb-c.h
	@mkdir -p $(dir $@)
	@echo "  CLANG   $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

# Each harness sees its own program's headers only, as that program's build
# does: an include such as "net/..." then means the program's own folder.
$(FUZZ_BUILD)/obj/server/%.o $(FUZZ_BUILD)/obj/tests/fuzz/server_%.o \
    $(FUZZ_BUILD)/obj/tests/fuzz/fake_rpc_call.o: CPPFLAGS += -Iserver
$(FUZZ_BUILD)/obj/device/%.o $(FUZZ_BUILD)/obj/tests/fuzz/device_%.o \
    $(FUZZ_BUILD)/obj/tests/fuzz/fake_client_call.o: CPPFLAGS += -Idevice

fuzz-build:
	@$(MAKE) --no-print-directory -s -j$(JOBS) $(FUZZ_BIN)

print-fuzz-names:
	@echo $(FUZZ_NAMES)

# Each harness for FUZZ_SECONDS, one after the other (tests/fuzz/run-fuzz.sh).
fuzz: test-deps
	@$(MAKE) --no-print-directory fuzz-build
	@tests/fuzz/run-fuzz.sh $(FUZZ_SECONDS)

# ---- install and packages (docs/packaging.md) ----
# make install [PREFIX=/usr/local] [DESTDIR=]: both programs, the bundled
# sounds (PREFIX/share/opal/sounds, where an installed server looks by
# default), the systemd units, the example config files (SYSCONFDIR/opal,
# kept if already there) and the man pages. install-server and
# install-device install one program's share (what each .deb holds).
# make deb: build/opal-server_VERSION_ARCH.deb and opal-device_...deb from
# $(BUILD)'s binaries; DEB_ARCH names their architecture (make deb
# BUILD=build/arm64 DEB_ARCH=arm64 for the cross build).
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
SYSCONFDIR ?= /etc
# Debian 12 keeps packaged units in /lib; systemd also reads /usr/local/lib.
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
VERSION    ?= $(shell sed -n 's/^\#define OPAL_VERSION "\(.*\)"$$/\1/p' server/server_options.h)
DEB_ARCH   ?= $(shell dpkg --print-architecture)
SOUNDS     := $(wildcard assets/[0-9]-*)
# Man pages come from the programs' own --help and --version (help2man), so
# their OPTIONS are the flags the build has; deploy/man/*.h2m adds the rest.
# They are made by build/'s programs, which run here also in a cross build.
MAN_PAGES  := build/man/opal-server.1 build/man/opal-device.1

.PHONY: man install install-server install-device deb

man: $(MAN_PAGES)

build/man/%.1: build/% deploy/man/%.h2m
	@mkdir -p $(dir $@)
	@echo "  MAN     $@"
	$(Q)help2man --no-info --no-discard-stderr --section=1 --include=deploy/man/$*.h2m \
	    --output=$@ ./build/$*

install: install-server install-device

install-server: $(BUILD)/opal-server build/man/opal-server.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/opal/sounds $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/opal
	install -m 0755 $(BUILD)/opal-server $(DESTDIR)$(BINDIR)/
	install -m 0644 $(SOUNDS) $(DESTDIR)$(DATADIR)/opal/sounds/
	install -m 0644 build/man/opal-server.1 $(DESTDIR)$(MANDIR)/man1/
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' deploy/systemd/opal-server.service >$(DESTDIR)$(UNITDIR)/opal-server.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/opal-server.service
	test -e $(DESTDIR)$(SYSCONFDIR)/opal/server.conf || \
	    install -m 0644 deploy/config/server.conf $(DESTDIR)$(SYSCONFDIR)/opal/

install-device: $(BUILD)/opal-device build/man/opal-device.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/opal
	install -m 0755 $(BUILD)/opal-device $(DESTDIR)$(BINDIR)/
	install -m 0644 build/man/opal-device.1 $(DESTDIR)$(MANDIR)/man1/
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' deploy/systemd/opal-device.service >$(DESTDIR)$(UNITDIR)/opal-device.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/opal-device.service
	test -e $(DESTDIR)$(SYSCONFDIR)/opal/device.conf || \
	    install -m 0644 deploy/config/device.conf $(DESTDIR)$(SYSCONFDIR)/opal/

# Each package's tree is staged by install-server / install-device (a
# sub-make, so ARCH= and BUILD= reach it) under $(BUILD)/deb/PACKAGE.
deb: $(BUILD)/opal-server $(BUILD)/opal-device $(MAN_PAGES)
	@rm -rf $(BUILD)/deb
	@$(MAKE) --no-print-directory -s install-server DESTDIR=$(abspath $(BUILD))/deb/opal-server PREFIX=/usr
	@$(MAKE) --no-print-directory -s install-device DESTDIR=$(abspath $(BUILD))/deb/opal-device PREFIX=/usr
	@deploy/debian/build-deb.sh $(BUILD)/deb "$(VERSION)" "$(DEB_ARCH)" build

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
