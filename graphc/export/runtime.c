/* graphc's runtime for an exported library: contexts, a pthread pool and the chunked
 * predict loop. The generated model source defines GRAPHC_BARRIER and GRAPHC_STEP (the
 * library's prefixed symbols) and includes this file, so everything here but the barrier is
 * static: only the library's own NAME_* functions are visible outside it.
 *
 * The compiled step is SPMD: every pool thread runs step(args, tid, nthreads) and meets the
 * others at GRAPHC_BARRIER(tid, nthreads). args[0] holds the run-time sizes, args[1] the
 * status words, args[2 + k] buffer k (see graphc/backends/llvm/emit.py). */

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GRAPHC_PLACE_INPUT = 0, GRAPHC_PLACE_OUTPUT = 1, GRAPHC_PLACE_WEIGHT = 2,
       GRAPHC_PLACE_ARENA = 3 };
enum { GRAPHC_OK = 0, GRAPHC_BAD_ARGUMENT = 1, GRAPHC_NO_MEMORY = 2, GRAPHC_INDEX = 3,
       GRAPHC_WEIGHTS = 4, GRAPHC_THREADS = 5 };
#define GRAPHC_ERROR_CHARS 512
#define GRAPHC_KERNEL_NO_MEMORY 2  /* a kernel's status code: runtime.ALLOCATION_FAILED in Python */

typedef void (*graphc_step_fn)(void **args, int32_t tid, int32_t nthreads);

/* One compiled function: predict (outputs per row) or a training step (outputs once). */
typedef struct {
    const char *what;            /* "predict" or "train_step", for error messages */
    int64_t chunk, nsyms, nbuffers, ncalls, ninputs, noutputs, arena_bytes, per_row_outputs;
    int64_t chunked;             /* 1: any n, run in chunks; 0: n <= chunk (it mixes rows) */
    const int64_t *slot_table;   /* chunk rows of nsyms values: sizes of a call of m rows */
    const int64_t *places;       /* per buffer: place code, index or byte offset */
    const int64_t *input_sizes;  /* floats per row of each input */
    const int64_t *output_sizes; /* floats per row (predict) or in all (a training step) */
    graphc_step_fn step;
} graphc_program;

typedef struct {
    const char *name;
    int64_t weight_bytes;
    const unsigned char *weights; /* NULL: the weights come from a file */
    uint64_t weight_hash;
    const graphc_program *predict, *train; /* train: NULL, or it updates the weights */
} graphc_model;

/* A program's pointer table, run-time sizes and status words in one context. */
typedef struct {
    void **args;
    int64_t *slots, *status;
} graphc_table;

typedef struct graphc_pool {
    int nthreads;
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t go, finished;
    pthread_barrier_t barrier;
    int generation, done, quit; /* read with atomics while spinning, written under the lock */
    void **args;
    graphc_step_fn step;
} graphc_pool;

typedef struct graphc_context {
    const graphc_model *model;
    graphc_pool pool;
    pthread_mutex_t call_lock; /* one call at a time per context: tables and arena are shared */
    graphc_table tables[2];    /* predict, train */
    unsigned char *arena, *weights_owned;
    const unsigned char *weights;
    char error[GRAPHC_ERROR_CHARS];
} graphc_context;

static __thread graphc_pool *graphc_current_pool;
static __thread char graphc_thread_error[GRAPHC_ERROR_CHARS];

void GRAPHC_BARRIER(int32_t tid, int32_t nthreads) {
    (void)tid;
    if (nthreads > 1) pthread_barrier_wait(&graphc_current_pool->barrier);
}

static int graphc_fail(graphc_context *ctx, int code, const char *format, ...) {
    char *out = ctx ? ctx->error : graphc_thread_error;
    va_list ap;
    va_start(ap, format);
    vsnprintf(out, GRAPHC_ERROR_CHARS, format, ap);
    va_end(ap);
    if (ctx) memcpy(graphc_thread_error, ctx->error, GRAPHC_ERROR_CHARS);
    return code;
}

/* Back-to-back calls meet without sleeping: a waiting thread first spins this many times
 * (tens of microseconds), then sleeps on the condition variable. */
#define GRAPHC_SPINS 4096

static void graphc_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Returns once *word != value or the pool quits; spins first, then sleeps on `cond`. */
static void graphc_wait_while(graphc_pool *pool, int *word, int value, pthread_cond_t *cond) {
    for (int spin = 0; spin < GRAPHC_SPINS; spin++) {
        if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != value || __atomic_load_n(&pool->quit, __ATOMIC_ACQUIRE)) return;
        graphc_pause();
    }
    pthread_mutex_lock(&pool->lock);
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == value && !pool->quit) pthread_cond_wait(cond, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}

static void *graphc_worker(void *arg) {
    graphc_pool *pool = (graphc_pool *)((void **)arg)[0];
    int tid = (int)(intptr_t)((void **)arg)[1];
    free(arg);
    graphc_current_pool = pool;
    int seen = 0;
    for (;;) {
        graphc_wait_while(pool, &pool->generation, seen, &pool->go);
        if (__atomic_load_n(&pool->quit, __ATOMIC_ACQUIRE)) return NULL;
        seen = __atomic_load_n(&pool->generation, __ATOMIC_ACQUIRE);
        pool->step(pool->args, tid, pool->nthreads);
        pthread_mutex_lock(&pool->lock);
        if (__atomic_add_fetch(&pool->done, 1, __ATOMIC_ACQ_REL) == pool->nthreads - 1)
            pthread_cond_signal(&pool->finished);
        pthread_mutex_unlock(&pool->lock);
    }
}

static void graphc_pool_stop(graphc_pool *pool, int started) {
    pthread_mutex_lock(&pool->lock);
    __atomic_store_n(&pool->quit, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool->go);
    pthread_mutex_unlock(&pool->lock);
    for (int k = 0; k < started; k++) pthread_join(pool->workers[k], NULL);
    free(pool->workers);
    pthread_barrier_destroy(&pool->barrier);
    pthread_cond_destroy(&pool->go);
    pthread_cond_destroy(&pool->finished);
    pthread_mutex_destroy(&pool->lock);
}

static int graphc_pool_start(graphc_pool *pool, int nthreads) {
    memset(pool, 0, sizeof *pool);
    pool->nthreads = nthreads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->go, NULL);
    pthread_cond_init(&pool->finished, NULL);
    pthread_barrier_init(&pool->barrier, NULL, (unsigned)nthreads);
    pool->workers = calloc((size_t)nthreads, sizeof(pthread_t));
    if (!pool->workers) { graphc_pool_stop(pool, 0); return 0; }
    for (int tid = 1; tid < nthreads; tid++) {
        void **arg = malloc(2 * sizeof(void *));
        if (arg) { arg[0] = pool; arg[1] = (void *)(intptr_t)tid; }
        if (!arg || pthread_create(&pool->workers[tid - 1], NULL, graphc_worker, arg) != 0) {
            free(arg);
            graphc_pool_stop(pool, tid - 1);
            return 0;
        }
    }
    return 1;
}

/* Every pool thread runs step(args); returns when all have finished. */
static void graphc_pool_run(graphc_pool *pool, graphc_step_fn step, void **args) {
    graphc_current_pool = pool;
    if (pool->nthreads > 1) {
        pthread_mutex_lock(&pool->lock);
        pool->step = step;
        pool->args = args;
        __atomic_store_n(&pool->done, 0, __ATOMIC_RELAXED);
        __atomic_add_fetch(&pool->generation, 1, __ATOMIC_RELEASE); /* publishes step, args */
        pthread_cond_broadcast(&pool->go);
        pthread_mutex_unlock(&pool->lock);
    }
    step(args, 0, pool->nthreads);
    for (int done; pool->nthreads > 1 && (done = __atomic_load_n(&pool->done, __ATOMIC_ACQUIRE)) < pool->nthreads - 1;)
        graphc_wait_while(pool, &pool->done, done, &pool->finished);
}

/* graphc.export.weights_hash: sum of w[k] * (2k + 1) over the 64-bit words, mod 2^64. */
static uint64_t graphc_hash(const unsigned char *data, int64_t n) {
    uint64_t h = 0, word;
    for (int64_t k = 0; k < n / 8; k++) {
        memcpy(&word, data + 8 * k, 8);
        h += word * (uint64_t)(2 * k + 1);
    }
    return h;
}

static int graphc_read_weights(graphc_context *ctx, const char *path) {
    const graphc_model *m = ctx->model;
    if (!path) return graphc_fail(ctx, GRAPHC_BAD_ARGUMENT, "%s_create: weights_path is NULL", m->name);
    FILE *f = fopen(path, "rb");
    if (!f) return graphc_fail(ctx, GRAPHC_WEIGHTS, "%s_create: cannot open the weights file %s", m->name, path);
    size_t padded = (size_t)(m->weight_bytes + 63) / 64 * 64 + 64;
    ctx->weights_owned = aligned_alloc(64, padded);
    size_t got = ctx->weights_owned ? fread(ctx->weights_owned, 1, (size_t)m->weight_bytes + 1, f) : 0;
    fclose(f);
    if (!ctx->weights_owned) return graphc_fail(ctx, GRAPHC_NO_MEMORY, "%s_create: no memory for the weights", m->name);
    if ((int64_t)got != m->weight_bytes || graphc_hash(ctx->weights_owned, m->weight_bytes) != m->weight_hash)
        return graphc_fail(ctx, GRAPHC_WEIGHTS, "%s_create: %s is not this library's weights file "
                           "(%zu bytes read, %lld expected, or different content)",
                           m->name, path, got, (long long)m->weight_bytes);
    ctx->weights = ctx->weights_owned;
    return GRAPHC_OK;
}

/* A training step writes the weights: they get memory of the context's own. */
static int graphc_copy_weights(graphc_context *ctx) {
    const graphc_model *m = ctx->model;
    ctx->weights_owned = aligned_alloc(64, (size_t)(m->weight_bytes + 63) / 64 * 64 + 64);
    if (!ctx->weights_owned) return graphc_fail(ctx, GRAPHC_NO_MEMORY, "%s_create: no memory for the weights", m->name);
    memcpy(ctx->weights_owned, m->weights, (size_t)m->weight_bytes);
    ctx->weights = ctx->weights_owned;
    return GRAPHC_OK;
}

static const graphc_program *graphc_program_of(const graphc_model *m, int k) {
    return k == 0 ? m->predict : m->train;
}

static void graphc_free_context(graphc_context *ctx) {
    for (int k = 0; k < 2; k++) {
        free(ctx->tables[k].args);
        free(ctx->tables[k].slots);
        free(ctx->tables[k].status);
    }
    free(ctx->arena);
    free(ctx->weights_owned);
    pthread_mutex_destroy(&ctx->call_lock);
    free(ctx);
}

static int graphc_allocate(graphc_context *ctx) {
    const graphc_model *m = ctx->model;
    int64_t arena_bytes = 0;
    for (int k = 0; k < 2; k++) {
        const graphc_program *p = graphc_program_of(m, k);
        if (!p) continue;
        graphc_table *t = &ctx->tables[k];
        t->args = calloc((size_t)(2 + p->nbuffers), sizeof(void *));
        t->slots = calloc((size_t)(p->nsyms + 1), sizeof(int64_t));
        t->status = calloc((size_t)(p->ncalls + 1), sizeof(int64_t));
        if (!t->args || !t->slots || !t->status) return graphc_fail(ctx, GRAPHC_NO_MEMORY, "%s_create: no memory", m->name);
        t->args[0] = t->slots;
        t->args[1] = t->status;
        if (p->arena_bytes > arena_bytes) arena_bytes = p->arena_bytes;
    }
    ctx->arena = aligned_alloc(64, (size_t)(arena_bytes + 63) / 64 * 64 + 64);
    if (!ctx->arena)
        return graphc_fail(ctx, GRAPHC_NO_MEMORY, "%s_create: no memory for a %lld-byte arena",
                           m->name, (long long)arena_bytes);
    return GRAPHC_OK;
}

/* Weights and arena addresses: fixed for the context's life. */
static void graphc_bind_fixed(graphc_context *ctx) {
    for (int k = 0; k < 2; k++) {
        const graphc_program *p = graphc_program_of(ctx->model, k);
        for (int64_t b = 0; p && b < p->nbuffers; b++) {
            int64_t place = p->places[2 * b], where = p->places[2 * b + 1];
            if (place == GRAPHC_PLACE_WEIGHT) ctx->tables[k].args[2 + b] = (void *)(ctx->weights + where);
            if (place == GRAPHC_PLACE_ARENA) ctx->tables[k].args[2 + b] = ctx->arena + where;
        }
    }
}

static graphc_context *graphc_create(const graphc_model *m, int num_threads, const char *weights_path) {
    if (num_threads < 1 || num_threads > 1024) {
        graphc_fail(NULL, GRAPHC_BAD_ARGUMENT, "%s_create: num_threads must be 1..1024; received %d",
                    m->name, num_threads);
        return NULL;
    }
    graphc_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) { graphc_fail(NULL, GRAPHC_NO_MEMORY, "%s_create: no memory", m->name); return NULL; }
    ctx->model = m;
    ctx->weights = m->weights;
    pthread_mutex_init(&ctx->call_lock, NULL);
    int weights = !m->weights ? graphc_read_weights(ctx, weights_path)
                  : m->train ? graphc_copy_weights(ctx) : GRAPHC_OK;
    if (weights != GRAPHC_OK || graphc_allocate(ctx) != GRAPHC_OK) {
        graphc_free_context(ctx);
        return NULL;
    }
    if (!graphc_pool_start(&ctx->pool, num_threads)) {
        graphc_fail(NULL, GRAPHC_THREADS, "%s_create: could not start %d threads", m->name, num_threads);
        graphc_free_context(ctx);
        return NULL;
    }
    graphc_bind_fixed(ctx);
    return ctx;
}

static void graphc_destroy(graphc_context *ctx) {
    if (!ctx) return;
    graphc_pool_stop(&ctx->pool, ctx->pool.nthreads - 1);
    graphc_free_context(ctx);
}

static int graphc_check_call(const graphc_model *m, graphc_context *ctx, const graphc_program *p, const float *const *xs, int64_t n, float *const *ys) {
    const char *name = m->name;
    if (!ctx) return graphc_fail(NULL, GRAPHC_BAD_ARGUMENT, "%s_%s: the context is NULL (create failed?)", name, p->what);
    if (n <= 0) return graphc_fail(ctx, GRAPHC_BAD_ARGUMENT, "%s_%s: n (rows) must be > 0; received %lld", name, p->what, (long long)n);
    if (!p->chunked && n > p->chunk)
        return graphc_fail(ctx, GRAPHC_BAD_ARGUMENT, "%s_%s: n (rows) must be at most %lld, the batch it was exported for; received %lld",
                           name, p->what, (long long)p->chunk, (long long)n);
    for (int64_t k = 0; k < p->ninputs; k++)
        if (!xs[k]) return graphc_fail(ctx, GRAPHC_BAD_ARGUMENT, "%s_%s: input %lld is NULL", name, p->what, (long long)k);
    for (int64_t k = 0; k < p->noutputs; k++)
        if (!ys[k]) return graphc_fail(ctx, GRAPHC_BAD_ARGUMENT, "%s_%s: output %lld is NULL", name, p->what, (long long)k);
    return GRAPHC_OK;
}

/* Points the table at rows [row, row + rows) of the inputs (and of per-row outputs). */
static void graphc_bind_rows(graphc_table *t, const graphc_program *p, const float *const *xs, float *const *ys, int64_t row, int64_t rows) {
    memcpy(t->slots, p->slot_table + (rows - 1) * p->nsyms, (size_t)p->nsyms * sizeof(int64_t));
    int64_t out_row = p->per_row_outputs ? row : 0;
    for (int64_t k = 0; k < p->nbuffers; k++) {
        int64_t place = p->places[2 * k], index = p->places[2 * k + 1];
        if (place == GRAPHC_PLACE_INPUT) t->args[2 + k] = (void *)(xs[index] + row * p->input_sizes[index]);
        if (place == GRAPHC_PLACE_OUTPUT) t->args[2 + k] = ys[index] + out_row * p->output_sizes[index];
    }
}

/* Training steps of all contexts take turns: some gradient kernels keep scratch in the
   library's own globals (convolution partial sums, transposed weights), one copy per process. */
static pthread_mutex_t graphc_train_lock = PTHREAD_MUTEX_INITIALIZER;

/* Program k (0 predict, 1 train) over rows [0, n), in chunks of at most p->chunk rows. */
static int graphc_call(const graphc_model *m, graphc_context *ctx, int k, const float *const *xs, int64_t n, float *const *ys) {
    const graphc_program *p = graphc_program_of(m, k);
    int code = graphc_check_call(m, ctx, p, xs, n, ys);
    if (code != GRAPHC_OK) return code;
    graphc_table *t = &ctx->tables[k];
    if (k == 1) pthread_mutex_lock(&graphc_train_lock); /* always before call_lock: no deadlock */
    pthread_mutex_lock(&ctx->call_lock);
    for (int64_t row = 0; row < n && code == GRAPHC_OK; row += p->chunk) {
        int64_t rows = n - row < p->chunk ? n - row : p->chunk;
        graphc_bind_rows(t, p, xs, ys, row, rows);
        graphc_pool_run(&ctx->pool, p->step, t->args);
        if (!t->status[0]) continue;
        if (t->status[t->status[0]] == GRAPHC_KERNEL_NO_MEMORY) {
            /* a kernel's per-thread heap buffers (bf16 convolutions) could not be allocated */
            code = graphc_fail(ctx, GRAPHC_NO_MEMORY, "%s_%s: kernel %lld could not allocate its per-thread buffers (rows %lld..%lld); nothing was computed",
                               m->name, p->what, (long long)t->status[0] - 1, (long long)row, (long long)(row + rows - 1));
        } else {
            code = graphc_fail(ctx, GRAPHC_INDEX, "%s_%s: an index computed in kernel %lld is out of range (rows %lld..%lld)",
                               m->name, p->what, (long long)t->status[0] - 1, (long long)row, (long long)(row + rows - 1));
        }
        memset(t->status, 0, (size_t)(p->ncalls + 1) * sizeof(int64_t));
    }
    pthread_mutex_unlock(&ctx->call_lock);
    if (k == 1) pthread_mutex_unlock(&graphc_train_lock);
    return code;
}

static const char *graphc_last_error(const graphc_context *ctx) {
    return ctx ? ctx->error : graphc_thread_error;
}
