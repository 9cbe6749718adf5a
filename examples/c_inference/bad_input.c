/* Bad input to an exported library gets an error code and a message, never a crash. */
#include <stdio.h>
#include <string.h>

#include "mnist.h"

static int expect(const char *what, int code, const char *message) {
    int ok = code == MNIST_BAD_ARGUMENT && message && strlen(message) > 0;
    printf("%s: code %d, \"%s\"%s\n", what, code, message ? message : "(null)", ok ? "" : "  <- WRONG");
    return ok;
}

int main(void) {
    float x[MNIST_INPUT_SIZE * 2] = {0}, y[MNIST_OUTPUT_SIZE * 2];
    int ok = mnist_create(0) == NULL;
    printf("create(0): %s\n", mnist_last_error(NULL));
    mnist_context *ctx = mnist_create(1);
    if (!ctx) { printf("create(1) failed: %s\n", mnist_last_error(NULL)); return 1; }
    ok &= expect("null context", mnist_predict(NULL, x, 1, y), mnist_last_error(NULL));
    ok &= expect("null input", mnist_predict(ctx, NULL, 1, y), mnist_last_error(ctx));
    ok &= expect("null output", mnist_predict(ctx, x, 1, NULL), mnist_last_error(ctx));
    ok &= expect("n = 0", mnist_predict(ctx, x, 0, y), mnist_last_error(ctx));
    ok &= expect("n = -3", mnist_predict(ctx, x, -3, y), mnist_last_error(ctx));
    ok &= mnist_predict(ctx, x, 2, y) == MNIST_OK;  /* still works after the errors */
    mnist_destroy(ctx);
    mnist_destroy(NULL);
    puts(ok ? "all bad input reported" : "FAILED");
    return ok ? 0 : 1;
}
