/*
 * Example C host: trains a small deep autoencoder (784-100-20-6, mirrored)
 * on CURVES-like images with Hessian-free optimization and prints one line
 * per iteration and the run's summary.
 *
 * Build (from the crate root, after `cargo build --release`):
 *
 *   cc -std=c11 -O2 -I include examples/c/train_autoencoder.c -L target/release -lhessfree -Wl,-rpath,$PWD/target/release -o train_c
 *
 * or, with the library installed (see docs/hosts.md):
 *
 *   cc -std=c11 -O2 examples/c/train_autoencoder.c $(pkg-config --cflags --libs hessfree) -o train_c
 *
 * Run: ./train_c [max_iters (default 10)] [training examples (default 2000)]
 */
#include <stdio.h>
#include <stdlib.h>

#include "hessfree.h"

/* Prints the failed call with the library's message and exits. */
static void check(hf_status status, const char *what) {
    char message[1024];
    if (status == HF_OK) return;
    message[0] = '\0';
    (void)hf_last_error_message(message, sizeof message);
    fprintf(stderr, "train_c: %s failed: %s: %s\n", what, hf_status_str((int)status), message);
    exit(1);
}

/* Parses a positive integer argument, or exits with a usage message. */
static long positive_arg(const char *text, const char *name) {
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v <= 0) {
        fprintf(stderr, "train_c: %s must be a positive integer, got '%s'\n", name, text);
        fprintf(stderr, "usage: train_c [max_iters] [training examples]\n");
        exit(2);
    }
    return v;
}

/* Progress callback: one line per HF iteration. It must not call back into
 * the session (only hf_session_request_stop is allowed), so it prints from
 * the report struct. Returning 0 continues the run. */
static int print_progress(void *user, const hf_iteration_report *r) {
    (void)user;
    printf("%4llu  obj %10.4f  train err %9.4f  test err %9.4f  cg %3llu  rho %6.3f  "
           "lambda %9.3g  %s%.2fs\n",
           (unsigned long long)r->iteration, r->objective, r->train_error, r->test_error,
           (unsigned long long)r->cg_iterations, r->rho, r->lambda,
           r->rejected ? "REJECTED  " : "", r->wall_seconds);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    const long max_iters = argc > 1 ? positive_arg(argv[1], "max_iters") : 10;
    const long n_train = argc > 2 ? positive_arg(argv[2], "training examples") : 2000;
    const long n_test = n_train / 4 > 0 ? n_train / 4 : 1;
    const size_t encoder[4] = {784, 100, 20, 6};
    hf_data *train = NULL, *test = NULL;
    hf_net *net = NULL;
    hf_config *cfg = NULL;
    hf_session *session = NULL;
    hf_summary summary;
    char text[4096];

    printf("hessfree %s (header %s)\n", hf_version(), HF_VERSION_STRING);
    check(hf_data_curves((size_t)n_train, 1, &train), "hf_data_curves (train)");
    check(hf_data_curves((size_t)n_test, 2, &test), "hf_data_curves (test)");
    check(hf_net_new_autoencoder(encoder, 4, HF_ACT_LOGISTIC, 1, &net), "hf_net_new_autoencoder");
    check(hf_net_describe(net, text, sizeof text), "hf_net_describe");
    printf("network %s, %ld training and %ld test images\n", text, n_train, n_test);

    check(hf_config_new(&cfg), "hf_config_new");
    check(hf_config_set_i64(cfg, "max_iters", max_iters), "max_iters");
    /* The curvature chunk: a quarter of the training set (the paper's CURVES
     * run uses 1/4 too). */
    check(hf_config_set_i64(cfg, "chunk_size", n_train / 4 > 0 ? n_train / 4 : 1), "chunk_size");
    check(hf_config_set_f64(cfg, "weight_cost", 2e-5), "weight_cost");
    check(hf_session_new(net, train, test, cfg, &session), "hf_session_new");
    /* The session holds its own references: the host's handles can go. */
    hf_config_free(cfg);
    hf_net_free(net);
    hf_data_free(train);
    hf_data_free(test);

    check(hf_session_backend_name(session, text, sizeof text), "hf_session_backend_name");
    printf("backend: %s\n", text);
    check(hf_session_run(session, print_progress, NULL, &summary), "hf_session_run");
    check(hf_session_summary_text(session, 1, text, sizeof text), "hf_session_summary_text");
    printf("%s\n", text);
    printf("final: objective %.6f, train error %.4f, test error %.4f (%s)\n",
           summary.final_objective, summary.final_train_error, summary.final_test_error,
           hf_termination_str(summary.termination));
    hf_session_free(session);
    return 0;
}
