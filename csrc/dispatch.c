/* Choices made at run time: the fastest kernel variant this CPU can run
 * (see crnn.h), and whether threads can be started. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if defined(_OPENMP) && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>
#define CRNN_WATCH_FORK 1
#endif

static int supported_isa(void)
{
#if CRNN_MULTI_ISA
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx2")
        && __builtin_cpu_supports("fma"))
        return CRNN_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CRNN_ISA_AVX2;
#endif
    return CRNN_ISA_BASELINE;
}

static int active_isa = -1;

int crnn_set_isa(int isa)
{
    const int best = supported_isa();
    active_isa = isa < CRNN_ISA_BASELINE ? CRNN_ISA_BASELINE
                 : isa > best            ? best
                                         : isa;
    return active_isa;
}

/* CRNN_ISA=baseline|avx2|avx512 caps the choice (for testing each path). */
static int isa_from_environment(void)
{
    const char *name = getenv("CRNN_ISA");
    if (name && strcmp(name, "baseline") == 0)
        return CRNN_ISA_BASELINE;
    if (name && strcmp(name, "avx2") == 0)
        return CRNN_ISA_AVX2;
    return CRNN_ISA_AVX512;
}

int crnn_get_isa(void)
{
    if (active_isa < 0)
        crnn_set_isa(isa_from_environment());
    return active_isa;
}

const char *crnn_isa_name(int isa)
{
    switch (isa) {
    case CRNN_ISA_AVX512: return "avx512";
    case CRNN_ISA_AVX2: return "avx2";
    default: return "baseline";
    }
}

#if defined(__GNUC__) || defined(__clang__)
/* Choose once at load time, before any thread can call a kernel. */
__attribute__((constructor)) static void choose_isa_at_load(void)
{
    crnn_get_isa();
}
#endif

/* GNU libgomp cannot start threads in a child forked after the parent ran a
 * parallel region (the child waits forever for the parent's pool): such a
 * child runs the kernels on one thread instead (results are the same). */
#ifdef CRNN_WATCH_FORK
static volatile int team_started, teams_unusable;
static pthread_once_t fork_hook_once = PTHREAD_ONCE_INIT;

static void after_fork_in_child(void)
{
    if (team_started)
        teams_unusable = 1;
}

static void install_fork_hook(void)
{
    pthread_atfork(NULL, NULL, after_fork_in_child);
}

int crnn_team_allowed(void)
{
    pthread_once(&fork_hook_once, install_fork_hook);
    if (teams_unusable)
        return 0;
    team_started = 1;
    return 1;
}
#else
int crnn_team_allowed(void)
{
    return 1;
}
#endif

int crnn_vector_code(void)
{
    return CRNN_VECTOR_EXT;
}
