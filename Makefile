# Tessera build. `make` builds build/tessera, build/tessera-bench and
# build/libtessera.{a,so}; `make test` builds and runs every test; `make sanitize`
# runs the tests under ASan+UBSan in build-asan/; `make static` links LLVM
# statically (for carrying to a GPU machine) in build-static/.

LLVM_CONFIG ?= llvm-config-19
CC ?= cc
RE2C ?= re2c
BUILD ?= build
OPT ?= -O2
PREFIX ?= /usr/local

# The compiler, stage by stage: source to TIR, the IR, its passes, the NVPTX
# backend with its targets, and the driver that runs them in order.
COMPILER_DIRS := frontend ir passes backend driver

LLVM_CFLAGS := $(shell $(LLVM_CONFIG) --cflags)
LLVM_LDFLAGS := $(shell $(LLVM_CONFIG) --ldflags)
ifeq ($(LLVM_STATIC),1)
# (bench/gpu-check.sh carries these binaries: LLVM's C++ runtime, zstd and
# zlib are linked in too, so they need only the C library there.)
LLVM_LIBS := $(shell $(LLVM_CONFIG) --link-static --libs nvptx passes target core analysis bitwriter) \
             -Wl,-Bstatic -lzstd -lz -lstdc++ -Wl,-Bdynamic -lrt -ldl -lm
else
LLVM_LIBS := $(shell $(LLVM_CONFIG) --libs)
endif

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Wvla
CFLAGS_ALL := -std=c11 $(OPT) -g -fPIC -fvisibility=hidden $(WARN) $(LLVM_CFLAGS) \
              -Iinclude -Isupport $(COMPILER_DIRS:%=-I%) -Iruntime -Ikernels -Itests/support -I$(BUILD)/gen \
              $(EXTRA_CFLAGS)
LDLIBS_ALL := $(LLVM_LDFLAGS) $(LLVM_LIBS) -ldl -lm -lpthread $(EXTRA_LDFLAGS)

ifeq ($(SANITIZE),1)
CFLAGS_ALL += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDLIBS_ALL += -fsanitize=address,undefined
endif

LIB_SRCS := $(sort $(wildcard support/*.c $(COMPILER_DIRS:%=%/*.c) runtime/*.c runtime/*/*.c kernels/*.c))
GEN_SRCS := $(BUILD)/gen/lexer.c
LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) $(BUILD)/obj/gen/lexer.o
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
# The longest first, so that `make test`'s parallel runs (tests/run-tests.sh)
# end together.
TEST_SLOW := test_attention_emu test_codegen test_attention_bwd_emu test_diffgen test_attention_interp
TEST_BINS := $(TEST_SLOW:%=$(BUILD)/tests/%) \
    $(filter-out $(TEST_SLOW:%=$(BUILD)/tests/%),$(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS)))
TEST_SUPPORT := $(sort $(wildcard tests/support/*.c))
TEST_SUPPORT_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_SUPPORT))
BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCH_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(BENCH_SRCS))

.PHONY: all test sanitize static clean install fuzz
# Keep object files of tests between runs (they are intermediate files).
.SECONDARY:
all: $(BUILD)/tessera $(BUILD)/tessera-bench $(BUILD)/libtessera.a $(BUILD)/libtessera.so

$(BUILD)/gen/lexer.c: frontend/lexer.re
	@mkdir -p $(dir $@)
	$(RE2C) -W --no-generation-date --no-version -o $@ $<

$(BUILD)/obj/gen/lexer.o: $(BUILD)/gen/lexer.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Ifrontend -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c | $(GEN_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# Two archives of the same objects. In-tree programs (the CLI, the bench,
# tests) link libtessera-internal.a, which keeps every symbol. The installed
# libtessera.a is one relocatable object (ld -r) in which every global
# symbol but the public API is made local (objcopy), without renaming
# anything in the sources: an application with its own sha256_init,
# diag_init or tsr_xmalloc links statically without a clash. The public API
# is what the shared library exports: the symbols of default visibility
# (TSR_API; everything is compiled with -fvisibility=hidden).
LIB_INTERNAL := $(BUILD)/libtessera-internal.a

$(LIB_INTERNAL): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libtessera.a: $(LIB_OBJS)
	@rm -f $@ $(BUILD)/libtessera-all.o
	ld -r -o $(BUILD)/libtessera-all.o $^
	readelf -s --wide $(BUILD)/libtessera-all.o | \
	    awk '$$5 == "GLOBAL" && $$6 == "DEFAULT" && $$7 != "UND" { print $$8 }' > $(BUILD)/libtessera-api.txt
	objcopy --keep-global-symbols=$(BUILD)/libtessera-api.txt $(BUILD)/libtessera-all.o $(BUILD)/libtessera-pub.o
	ar rcs $@ $(BUILD)/libtessera-pub.o
	@rm -f $(BUILD)/libtessera-all.o $(BUILD)/libtessera-pub.o $(BUILD)/libtessera-api.txt

# The shared library's SONAME carries major.minor (0.x makes no ABI promise
# across minor versions); the build folder gets a link of that name.
TSR_VERSION := $(shell sed -n 's/^\#define TESSERA_VERSION_STRING "\(.*\)"$$/\1/p' include/tessera.h)
TSR_SONAME := libtessera.so.$(basename $(TSR_VERSION))

$(BUILD)/libtessera.so: $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,$(TSR_SONAME) -o $@ $^ $(LDLIBS_ALL)
	ln -sf libtessera.so $(BUILD)/$(TSR_SONAME)

# `tessera run` (cli/run*.c) times launches with the benchmark's statistics.
CLI_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard cli/*.c))) $(BUILD)/obj/bench/measure.o
$(BUILD)/obj/cli/run.o: CFLAGS_ALL += -Ibench

$(BUILD)/tessera: $(CLI_OBJS) $(LIB_INTERNAL)
	$(CC) -o $@ $^ $(LDLIBS_ALL)

# test_cli_run runs the command; test_python the Python package over the
# shared library (and the command).
$(BUILD)/tests/test_cli_run: | $(BUILD)/tessera
$(BUILD)/tests/test_python: | $(BUILD)/tessera $(BUILD)/libtessera.so

$(BUILD)/tessera-bench: $(BENCH_OBJS) $(LIB_INTERNAL)
	$(CC) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_SUPPORT_OBJS) $(LIB_INTERNAL)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS_ALL)

# The library's allocations go through tests/oom/track.c (failure injection).
OOM_TESTS := $(BUILD)/tests/test_compile_oom $(BUILD)/tests/test_emu_oom
$(OOM_TESTS): $(BUILD)/obj/tests/oom/track.o
$(OOM_TESTS): TEST_LDFLAGS = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc,--wrap=free

test: all $(TEST_BINS)
	@BUILD=$(BUILD) sh tests/run-tests.sh $(TEST_BINS)

sanitize:
	$(MAKE) BUILD=build-asan SANITIZE=1 OPT=-O1 test

# The attention backward pass on every (Sq, Sk) pair of issue 18 for every
# variant, on the interpreter and the emulator, each run repeated (make test
# runs a subset; about 5.5 minutes of CPU time, both targets on emu), and
# every feature case of the forward's kernels/attention_ext.tsr and every
# decoding case of kernels/attention_decode.tsr on every variant (make test:
# one variant each).
.PHONY: test-attention-full
test-attention-full: $(BUILD)/tests/test_attention_bwd_interp $(BUILD)/tests/test_attention_bwd_emu \
		$(BUILD)/tests/test_attention_features $(BUILD)/tests/test_attention_decode
	TSR_ATTN_BWD_FULL=1 $(BUILD)/tests/test_attention_bwd_interp
	TSR_ATTN_BWD_FULL=1 $(BUILD)/tests/test_attention_bwd_emu
	TSR_ATTN_FEATURES_FULL=1 $(BUILD)/tests/test_attention_features
	TSR_ATTN_FEATURES_FULL=1 $(BUILD)/tests/test_attention_decode

# No libtessera.so there: the static libraries it would hold are not PIC.
static:
	$(MAKE) BUILD=build-static LLVM_STATIC=1 EXTRA_LDFLAGS="-static-libgcc" \
	    build-static/tessera build-static/tessera-bench build-static/libtessera.a

clean:
	rm -rf build build-asan build-static build-llvm22

install: all
	sh scripts/install.sh "$(PREFIX)" "$(BUILD)"

# ---- differential testing with random programs (tests/diffgen/, issue 20) --
# $(BUILD)/fuzz-diff generates random programs and runs each on the
# interpreter and the PTX emulator (scripts/fuzz-diff.sh); tests/test_diffgen
# runs the regression programs and a fixed seed for a bounded time.
DIFFGEN_SRCS := $(sort $(filter-out tests/diffgen/fuzz_diff.c,$(wildcard tests/diffgen/*.c)))
DIFFGEN_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(DIFFGEN_SRCS))
$(BUILD)/obj/tests/diffgen/%.o $(BUILD)/obj/tests/test_diffgen.o $(BUILD)/obj/tests/test_diffgen_device.o \
    $(BUILD)/obj/gpu-tests/test_diffgen_device.o: CFLAGS_ALL += -Itests/diffgen

$(BUILD)/fuzz-diff: $(BUILD)/obj/tests/diffgen/fuzz_diff.o $(DIFFGEN_OBJS) $(TEST_SUPPORT_OBJS) $(LIB_INTERNAL)
	$(CC) -o $@ $^ -lcmocka $(LDLIBS_ALL)

$(BUILD)/tests/test_diffgen: $(BUILD)/obj/tests/test_diffgen.o $(DIFFGEN_OBJS) $(TEST_SUPPORT_OBJS) $(LIB_INTERNAL)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ -lcmocka $(LDLIBS_ALL)

# tests/test_diffgen_device: generated programs through the public API on
# the machine's device (cuda on a GPU machine, in tessera-gpu-tests).
$(BUILD)/tests/test_diffgen_device: $(BUILD)/obj/tests/test_diffgen_device.o $(DIFFGEN_OBJS) $(TEST_SUPPORT_OBJS) $(LIB_INTERNAL)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ -lcmocka $(LDLIBS_ALL)
# ---- end of differential testing --------------------------------------------

# ---- fuzzing and golden files (frontend tests; see tests/README.md) --------
# `make fuzz` builds the libFuzzer harness of the frontend into build-fuzz/
# with clang, ASan and UBSan (fuzz_frontend; fuzz_codegen adds GPU code
# generation; fuzz_npy, the .npy reader), and a seed corpus in build-fuzz/corpus;
# `make fuzz-run FUZZ_SECONDS=N` runs it; `make golden-update` rewrites the
# expected files under tests/golden/ from what the compiler prints now.
FUZZ_CC ?= clang-19
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_JOBS ?= 1
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
.PHONY: fuzz-lib fuzz-run golden-update

fuzz: fuzz-lib
	$(FUZZ_CC) -std=c11 -O1 -g $(WARN) -fsanitize=fuzzer $(FUZZ_SAN) -Iinclude -Isupport $(COMPILER_DIRS:%=-I%) \
	    -Iruntime tests/fuzz/fuzz_frontend.c $(FUZZ_BUILD)/libtessera-internal.a -o $(FUZZ_BUILD)/fuzz_frontend $(LDLIBS_ALL)
	$(FUZZ_CC) -std=c11 -O1 -g $(WARN) -fsanitize=fuzzer $(FUZZ_SAN) -DTSR_FUZZ_CODEGEN -Iinclude -Isupport \
	    $(COMPILER_DIRS:%=-I%) -Iruntime tests/fuzz/fuzz_frontend.c $(FUZZ_BUILD)/libtessera-internal.a -o $(FUZZ_BUILD)/fuzz_codegen \
	    $(LDLIBS_ALL)
	$(FUZZ_CC) -std=c11 -O1 -g $(WARN) -fsanitize=fuzzer $(FUZZ_SAN) -Iinclude -Isupport tests/fuzz/fuzz_npy.c \
	    $(FUZZ_BUILD)/libtessera-internal.a -o $(FUZZ_BUILD)/fuzz_npy $(LDLIBS_ALL)
	sh tests/fuzz/make-corpus.sh $(FUZZ_BUILD)/corpus

# The harness needs only the frontend and the TIR: the library is built
# without the device runtimes (runtime/*/).
FUZZ_LIB_SRCS = $(sort $(wildcard support/*.c $(COMPILER_DIRS:%=%/*.c) runtime/*.c))
fuzz-lib:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT=-O1 EXTRA_CFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	    LIB_SRCS="$(FUZZ_LIB_SRCS)" $(FUZZ_BUILD)/libtessera-internal.a

fuzz-run: fuzz
	@mkdir -p fuzz-out/corpus fuzz-out/artifacts
	$(FUZZ_BUILD)/fuzz_frontend -dict=tests/fuzz/tessera.dict -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
	    -max_total_time=$(FUZZ_SECONDS) -jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS) \
	    -artifact_prefix=fuzz-out/artifacts/ fuzz-out/corpus $(FUZZ_BUILD)/corpus

golden-update: $(BUILD)/tessera $(BUILD)/tests/test_golden
	TSR_GOLDEN_UPDATE=1 $(BUILD)/tests/test_golden
# ---- end of fuzzing and golden files ---------------------------------------

# ---- runtime: C API, embedded kernels, install, example (runtime) ----------
# The library embeds kernels/attention.tsr, attention_ext.tsr, attention_decode.tsr, attention_bwd.tsr and attention_fp8.tsr as C strings (scripts/embed.sh)
# and a hash of the compiler's sources that the JIT cache's keys include
# (scripts/build-id.sh). runtime/device/cuda.c takes only the driver API's types from
# CUDA's cuda.h (CUDA_INCLUDE): libcuda is opened at run time, never linked.
# tests/test_runtime_cuda also runs on a mock driver, $(BUILD)/tests/libcuda_mock.so.
CUDA_INCLUDE ?= /usr/local/cuda/include
RT_GEN_OBJS := $(BUILD)/obj/gen/attention_tsr.o $(BUILD)/obj/gen/attention_ext_tsr.o \
	$(BUILD)/obj/gen/attention_decode_tsr.o $(BUILD)/obj/gen/attention_bwd_tsr.o $(BUILD)/obj/gen/attention_fp8_tsr.o \
	$(BUILD)/obj/gen/build_id.o
RT_BUILD_ID_SRCS := $(sort $(wildcard support/*.[ch] $(COMPILER_DIRS:%=%/*.[ch]) frontend/*.re))

$(BUILD)/libtessera.a $(LIB_INTERNAL) $(BUILD)/libtessera.so: $(RT_GEN_OBJS)

$(BUILD)/gen/attention_tsr.c: kernels/attention.tsr scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh $< tsr_attention_source > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/attention_ext_tsr.c: kernels/attention_ext.tsr scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh $< tsr_attention_ext_source > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/attention_decode_tsr.c: kernels/attention_decode.tsr scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh $< tsr_attention_decode_source > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/attention_fp8_tsr.c: kernels/attention_fp8.tsr scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh $< tsr_attention_fp8_source > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/attention_bwd_tsr.c: kernels/attention_bwd.tsr scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh $< tsr_attention_bwd_source > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/build_id.c: $(RT_BUILD_ID_SRCS) scripts/build-id.sh
	@mkdir -p $(dir $@)
	sh scripts/build-id.sh $(RT_BUILD_ID_SRCS) > $@.tmp && mv $@.tmp $@

$(RT_GEN_OBJS): $(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/obj/runtime/device/cuda.o: CFLAGS_ALL += -isystem $(CUDA_INCLUDE)

# test_runtime_install installs into a temporary prefix and builds
# examples/embed.c against it with pkg-config (shared and static).
$(BUILD)/tests/test_runtime_install: | $(BUILD)/libtessera.so $(BUILD)/libtessera.a $(BUILD)/tessera

ifneq ($(wildcard $(CUDA_INCLUDE)/cuda.h),)
$(BUILD)/tests/libcuda_mock.so: tests/mock/libcuda_mock.c $(LIB_INTERNAL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -isystem $(CUDA_INCLUDE) -shared -o $@ $< $(LIB_INTERNAL) $(LDLIBS_ALL)

$(BUILD)/tests/test_runtime_cuda: | $(BUILD)/tests/libcuda_mock.so
$(BUILD)/tests/test_python: | $(BUILD)/tests/libcuda_mock.so
endif
# ---- end of runtime ----------------------------------------------------------

# ---- emu: PTX emulator micro-benchmark (runtime/emu/README.md) --------------
.PHONY: emu-bench
$(BUILD)/emubench: $(BUILD)/obj/tests/emu/emubench.o $(LIB_INTERNAL)
	$(CC) -o $@ $^ $(LDLIBS_ALL)

emu-bench: $(BUILD)/emubench
	$(BUILD)/emubench
# ---- end of emu --------------------------------------------------------------

# ---- benchmark (bench/; see bench/bench.h) ----------------------------------
# tessera-bench embeds its reference attention (kernels/attention_naive.tsr)
# as the library embeds attention.tsr; tests/test_bench links the bench's
# objects but main. `make gpu-carry` builds what bench/gpu-check.sh runs on a
# GPU machine into build-static/carry/ (bench/gpu-carry.sh): tessera-bench and
# tessera-gpu-tests, one program bundling the test programs of GPU_TESTS
# (each main renamed), statically linked against LLVM, stripped, compressed.
.PHONY: gpu-carry
BENCH_GEN_OBJ := $(BUILD)/obj/gen/attention_naive_tsr.o
BENCH_LIB_OBJS := $(filter-out $(BUILD)/obj/bench/tessera-bench.o,$(BENCH_OBJS)) $(BENCH_GEN_OBJ)
GPU_TESTS ?= test_runtime test_runtime_attention test_bench test_bench_events test_diffgen_device

$(BUILD)/gen/attention_naive_tsr.c: kernels/attention_naive.tsr scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh $< tsr_attention_naive_source > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/gpu_tests_main.c: bench/gpu-tests-main.sh
	@mkdir -p $(dir $@)
	sh bench/gpu-tests-main.sh $(GPU_TESTS) > $@.tmp && mv $@.tmp $@

$(BENCH_GEN_OBJ) $(BUILD)/obj/gen/gpu_tests_main.o: $(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/tessera-bench: $(BENCH_GEN_OBJ)

$(BUILD)/obj/tests/test_bench.o $(BUILD)/obj/gpu-tests/test_bench.o: CFLAGS_ALL += -Ibench

$(BUILD)/tests/test_bench: $(BUILD)/obj/tests/test_bench.o $(TEST_SUPPORT_OBJS) $(BENCH_LIB_OBJS) $(LIB_INTERNAL)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ -lcmocka $(LDLIBS_ALL)

$(BUILD)/obj/gpu-tests/%.o: tests/%.c | $(GEN_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Dmain=tsr_gpu_test_$* -c $< -o $@

$(BUILD)/tessera-gpu-tests: $(patsubst %,$(BUILD)/obj/gpu-tests/%.o,$(GPU_TESTS)) $(BUILD)/obj/gen/gpu_tests_main.o \
                            $(TEST_SUPPORT_OBJS) $(DIFFGEN_OBJS) $(BENCH_LIB_OBJS) $(LIB_INTERNAL)
	$(CC) -o $@ $^ -lcmocka $(LDLIBS_ALL)

gpu-carry: static
	$(MAKE) BUILD=build-static LLVM_STATIC=1 EXTRA_LDFLAGS="-static-libgcc" build-static/tessera-gpu-tests
	sh bench/gpu-carry.sh build-static build-static/carry
# ---- end of benchmark --------------------------------------------------------

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
