/* Classify digits with a graphc model exported as a C library (no Python at run time).
 *
 *   ./c_inference DIGITS.f32 LABELS.u8|- [PREDICTIONS.f32] [NUM_THREADS]
 *
 * DIGITS.f32: n rows of MNIST_INPUT_SIZE float32 pixels; LABELS.u8: n bytes (or - for none).
 * Prints the accuracy (with labels) and the time of one predict call over all rows; writes
 * the n x MNIST_OUTPUT_SIZE outputs to PREDICTIONS.f32 when given. See README.md. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mnist.h"

static void *read_file(const char *path, long *bytes) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); return NULL; }
    fseek(f, 0, SEEK_END);
    *bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *data = malloc(*bytes > 0 ? (size_t)*bytes : 1);
    if (data && fread(data, 1, (size_t)*bytes, f) != (size_t)*bytes) { free(data); data = NULL; }
    fclose(f);
    return data;
}

static int write_file(const char *path, const void *data, size_t bytes) {
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, bytes, f) == bytes;
    if (f) fclose(f);
    return ok;
}

static int argmax(const float *row, int n) {
    int best = 0;
    for (int k = 1; k < n; k++) if (row[k] > row[best]) best = k;
    return best;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s DIGITS.f32 LABELS.u8|- [PREDICTIONS.f32] [NUM_THREADS]\n", argv[0]); return 2; }
    long bytes = 0, label_bytes = 0;
    float *x = read_file(argv[1], &bytes);
    if (!x) return 1;
    long n = bytes / (long)(sizeof(float) * MNIST_INPUT_SIZE);
    unsigned char *labels = strcmp(argv[2], "-") ? read_file(argv[2], &label_bytes) : NULL;
    if (labels && label_bytes != n) { fprintf(stderr, "%ld labels for %ld digits\n", label_bytes, n); return 1; }
    int threads = argc > 4 ? atoi(argv[4]) : 2;
    float *y = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1) * MNIST_OUTPUT_SIZE);
    mnist_context *ctx = mnist_create(threads);
    if (!ctx) { fprintf(stderr, "mnist_create: %s\n", mnist_last_error(NULL)); return 1; }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int err = mnist_predict(ctx, x, n, y);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (err) { fprintf(stderr, "mnist_predict: %s\n", mnist_last_error(ctx)); return 1; }
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    long right = 0;
    for (long i = 0; labels && i < n; i++) right += argmax(y + i * MNIST_OUTPUT_SIZE, MNIST_OUTPUT_SIZE) == labels[i];
    if (labels) printf("%ld digits, accuracy %.2f%%", n, 100.0 * right / n);
    else printf("%ld rows", n);
    printf(" (predict %.2f ms, %d threads)\n", ms, threads);
    if (argc > 3 && !write_file(argv[3], y, sizeof(float) * (size_t)n * MNIST_OUTPUT_SIZE)) { fprintf(stderr, "cannot write %s\n", argv[3]); return 1; }
    mnist_destroy(ctx);
    free(x); free(y); free(labels);
    return 0;
}
