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

enum { PLACE_INPUT = 0, PLACE_OUTPUT = 1, PLACE_WEIGHT = 2, PLACE_ARENA = 3 };
enum { GRAPHC_OK = 0, GRAPHC_BAD_ARGUMENT = 1, GRAPHC_NO_MEMORY = 2, GRAPHC_INDEX = 3,
       GRAPHC_WEIGHTS = 4, GRAPHC_THREADS = 5 };
#define GRAPHC_ERROR_CHARS 512

typedef void (*graphc_step_fn)(void **args, int32_t tid, int32_t nthreads);

typedef struct {
    const char *name;
    int64_t chunk, nsyms, nbuffers, ncalls, ninputs, noutputs, arena_bytes, weight_bytes;
    const int64_t *slot_table;   /* chunk rows of nsyms values: sizes of a call of m rows */
    const int64_t *places;       /* per buffer: place code, index or byte offset */
    const int64_t *input_sizes;  /* floats per row of each input */
    const int64_t *output_sizes;
    const unsigned char *weights; /* NULL: the weights come from a file */
    uint64_t weight_hash;
    graphc_step_fn step;
} graphc_model;

typedef struct graphc_pool {
    int nthreads;
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t go, finished;
    pthread_barrier_t barrier;
    unsigned generation;
    int done, quit;
    void **args;
    graphc_step_fn step;
} graphc_pool;

typedef struct graphc_context {
    const graphc_model *model;
    graphc_pool pool;
    pthread_mutex_t call_lock; /* one call at a time per context: the pointer table is shared */
    void **args;
    int64_t *slots, *status;
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

static void *graphc_worker(void *arg) {
    graphc_pool *pool = (graphc_pool *)((void **)arg)[0];
    int tid = (int)(intptr_t)((void **)arg)[1];
    free(arg);
    graphc_current_pool = pool;
    unsigned seen = 0;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        while (pool->generation == seen && !pool->quit) pthread_cond_wait(&pool->go, &pool->lock);
        if (pool->quit) { pthread_mutex_unlock(&pool->lock); return NULL; }
        seen = pool->generation;
        pthread_mutex_unlock(&pool->lock);
        pool->step(pool->args, tid, pool->nthreads);
        pthread_mutex_lock(&pool->lock);
        if (++pool->done == pool->nthreads - 1) pthread_cond_signal(&pool->finished);
        pthread_mutex_unlock(&pool->lock);
    }
}

static void graphc_pool_stop(graphc_pool *pool, int started) {
    pthread_mutex_lock(&pool->lock);
    pool->quit = 1;
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
        pool->done = 0;
        pool->generation++;
        pthread_cond_broadcast(&pool->go);
        pthread_mutex_unlock(&pool->lock);
    }
    step(args, 0, pool->nthreads);
    if (pool->nthreads > 1) {
        pthread_mutex_lock(&pool->lock);
        while (pool->done < pool->nthreads - 1) pthread_cond_wait(&pool->finished, &pool->lock);
        pthread_mutex_unlock(&pool->lock);
    }
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

static void graphc_free_context(graphc_context *ctx) {
    free(ctx->args);
    free(ctx->slots);
    free(ctx->status);
    free(ctx->arena);
    free(ctx->weights_owned);
    pthread_mutex_destroy(&ctx->call_lock);
    free(ctx);
}

static int graphc_allocate(graphc_context *ctx) {
    const graphc_model *m = ctx->model;
    ctx->args = calloc((size_t)(2 + m->nbuffers), sizeof(void *));
    ctx->slots = calloc((size_t)(m->nsyms + 1), sizeof(int64_t));
    ctx->status = calloc((size_t)(m->ncalls + 1), sizeof(int64_t));
    ctx->arena = aligned_alloc(64, (size_t)(m->arena_bytes + 63) / 64 * 64 + 64);
    if (!ctx->args || !ctx->slots || !ctx->status || !ctx->arena)
        return graphc_fail(ctx, GRAPHC_NO_MEMORY, "%s_create: no memory for a %lld-byte arena",
                           m->name, (long long)m->arena_bytes);
    ctx->args[0] = ctx->slots;
    ctx->args[1] = ctx->status;
    return GRAPHC_OK;
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
    if (graphc_allocate(ctx) != GRAPHC_OK || (!m->weights && graphc_read_weights(ctx, weights_path) != GRAPHC_OK)) {
        graphc_free_context(ctx);
        return NULL;
    }
    if (!graphc_pool_start(&ctx->pool, num_threads)) {
        graphc_fail(NULL, GRAPHC_THREADS, "%s_create: could not start %d threads", m->name, num_threads);
        graphc_free_context(ctx);
        return NULL;
    }
    for (int64_t k = 0; k < m->nbuffers; k++) {
        int64_t place = m->places[2 * k], where = m->places[2 * k + 1];
        if (place == PLACE_WEIGHT) ctx->args[2 + k] = (void *)(ctx->weights + where);
        if (place == PLACE_ARENA) ctx->args[2 + k] = ctx->arena + where;
    }
    return ctx;
}

static void graphc_destroy(graphc_context *ctx) {
    if (!ctx) return;
    graphc_pool_stop(&ctx->pool, ctx->pool.nthreads - 1);
    graphc_free_context(ctx);
}

static int graphc_check_call(graphc_context *ctx, const float *const *xs, int64_t n, float *const *ys) {
    if (!ctx) return graphc_fail(NULL, GRAPHC_BAD_ARGUMENT, "predict: the context is NULL (create failed?)");
    const graphc_model *m = ctx->model;
    if (n <= 0) return graphc_fail(ctx, GRAPHC_BAD_ARGUMENT, "%s_predict: n (rows) must be > 0; received %lld", m->name, (long long)n);
    for (int64_t k = 0; k < m->ninputs; k++)
        if (!xs[k]) return graphc_fail(ctx, GRAPHC_BAD_ARGUMENT, "%s_predict: input %lld is NULL", m->name, (long long)k);
    for (int64_t k = 0; k < m->noutputs; k++)
        if (!ys[k]) return graphc_fail(ctx, GRAPHC_BAD_ARGUMENT, "%s_predict: output %lld is NULL", m->name, (long long)k);
    return GRAPHC_OK;
}

/* Points the table at rows [row, row + rows) of the inputs and outputs. */
static void graphc_bind_rows(graphc_context *ctx, const float *const *xs, float *const *ys, int64_t row, int64_t rows) {
    const graphc_model *m = ctx->model;
    memcpy(ctx->slots, m->slot_table + (rows - 1) * m->nsyms, (size_t)m->nsyms * sizeof(int64_t));
    for (int64_t k = 0; k < m->nbuffers; k++) {
        int64_t place = m->places[2 * k], index = m->places[2 * k + 1];
        if (place == PLACE_INPUT) ctx->args[2 + k] = (void *)(xs[index] + row * m->input_sizes[index]);
        if (place == PLACE_OUTPUT) ctx->args[2 + k] = ys[index] + row * m->output_sizes[index];
    }
}

static int graphc_predict(graphc_context *ctx, const float *const *xs, int64_t n, float *const *ys) {
    int code = graphc_check_call(ctx, xs, n, ys);
    if (code != GRAPHC_OK) return code;
    const graphc_model *m = ctx->model;
    pthread_mutex_lock(&ctx->call_lock);
    for (int64_t row = 0; row < n && code == GRAPHC_OK; row += m->chunk) {
        int64_t rows = n - row < m->chunk ? n - row : m->chunk;
        graphc_bind_rows(ctx, xs, ys, row, rows);
        graphc_pool_run(&ctx->pool, m->step, ctx->args);
        if (ctx->status[0]) {
            code = graphc_fail(ctx, GRAPHC_INDEX, "%s_predict: an index computed in kernel %lld is out of range "
                               "(rows %lld..%lld)", m->name, (long long)ctx->status[0] - 1, (long long)row, (long long)(row + rows - 1));
            memset(ctx->status, 0, (size_t)(m->ncalls + 1) * sizeof(int64_t));
        }
    }
    pthread_mutex_unlock(&ctx->call_lock);
    return code;
}

static const char *graphc_last_error(const graphc_context *ctx) {
    return ctx ? ctx->error : graphc_thread_error;
}
