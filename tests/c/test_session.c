/*
 * C host test of hf_session over networks: training a small autoencoder on
 * CURVES-like data reduces its error; the progress callback sees every
 * iteration and can stop the run; hf_session_request_stop from a second
 * thread stops a run in progress, and from inside the callback too; save and
 * resume continue bit-identically; and every kind of bad argument gives its
 * documented status and message, with the session still usable afterwards.
 *
 * Under valgrind (the harness sets HESSFREE_TEST_UNDER_VALGRIND) the
 * training problem is made smaller so the run stays fast.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static int under_valgrind(void) {
    const char *v = getenv("HESSFREE_TEST_UNDER_VALGRIND");
    return v && v[0] == '1';
}

static char scratch[64];

/* A tiny autoencoder problem: 40 examples of 8 values in (0, 1), an 8-4-8 net. */
enum { TN = 40, TD = 8 };

static hf_data *tiny_data(void) {
    float x[TN * TD];
    hf_data *d = NULL;
    int i, j;
    for (i = 0; i < TN; i++)
        for (j = 0; j < TD; j++) x[i * TD + j] = (float)(0.5 + 0.4 * sin(0.7 * i + 1.3 * j * (i % 3 + 1)));
    CHECK_OK(hf_data_new_autoencoder(TN, TD, x, TN * TD, &d));
    return d;
}

static hf_net *tiny_net(void) {
    const size_t encoder[2] = {TD, 4};
    hf_net *net = NULL;
    CHECK_OK(hf_net_new_autoencoder(encoder, 2, HF_ACT_LOGISTIC, 3, &net));
    return net;
}

static hf_config *tiny_config(int64_t max_iters) {
    hf_config *cfg = NULL;
    CHECK_OK(hf_config_new(&cfg));
    CHECK_OK(hf_config_set_i64(cfg, "max_iters", max_iters));
    CHECK_OK(hf_config_set_i64(cfg, "chunk_size", 20));
    CHECK_OK(hf_config_set_i64(cfg, "cg_max_iters", 30));
    CHECK_OK(hf_config_set_str(cfg, "backend", "cpu"));
    return cfg;
}

/* ---- Training reduces the error; the callback sees every iteration. ---- */

typedef struct {
    int calls;
    uint64_t last_iteration;
    int in_order, finite, has_test;
} progress_log;

static int log_progress(void *user, const hf_iteration_report *r) {
    progress_log *log = (progress_log *)user;
    log->calls++;
    if (r->iteration != log->last_iteration + 1) log->in_order = 0;
    log->last_iteration = r->iteration;
    if (!isfinite(r->objective) || !isfinite(r->train_error) || !isfinite(r->lambda))
        log->finite = 0;
    if (!isfinite(r->test_error) || !isfinite(r->test_objective)) log->has_test = 0;
    return 0;
}

static void test_training_reduces_error(void) {
    const int small = under_valgrind();
    const size_t n = small ? 60 : 500, n_test = small ? 20 : 100;
    const size_t encoder[3] = {784, small ? 16 : 64, small ? 4 : 8};
    const int64_t iters = small ? 2 : 5;
    hf_data *train = NULL, *test = NULL;
    hf_net *net = NULL, *trained = NULL;
    hf_config *cfg = NULL;
    hf_session *s = NULL;
    hf_summary sum;
    progress_log log = {0, 0, 1, 1, 1};
    double loss0 = 0, err0 = 0, loss1 = 0, err1 = 0;
    char backend[256], text[2048];

    CHECK_OK(hf_data_curves(n, 1, &train));
    CHECK_OK(hf_data_curves(n_test, 2, &test));
    CHECK_OK(hf_net_new_autoencoder(encoder, 3, HF_ACT_LOGISTIC, 1, &net));
    CHECK_OK(hf_net_evaluate(net, train, &loss0, &err0));
    CHECK_OK(hf_config_new(&cfg));
    CHECK_OK(hf_config_set_i64(cfg, "chunk_size", (int64_t)n / 2));
    CHECK_OK(hf_config_set_i64(cfg, "max_iters", iters));
    CHECK_OK(hf_config_set_i64(cfg, "cg_max_iters", small ? 10 : 50));
    CHECK_OK(hf_session_new(net, train, test, cfg, &s));
    /* The session holds its own copies: the host may free these now. */
    CHECK_OK(hf_data_free(train));
    CHECK_OK(hf_data_free(test));
    CHECK_OK(hf_config_free(cfg));

    CHECK_OK(hf_session_backend_name(s, backend, sizeof backend));
    /* `auto`: the GPU in a `cuda` build on a machine with a device, else the CPU. */
    CHECK(strncmp(backend, "cpu", 3) == 0 || strncmp(backend, "cuda (", 6) == 0);
    memset(&sum, 0, sizeof sum);
    CHECK_OK(hf_session_run(s, log_progress, &log, &sum));
    CHECK(log.calls == iters && log.last_iteration == (uint64_t)iters);
    CHECK(log.in_order && log.finite && log.has_test);
    CHECK(sum.iterations == (uint64_t)iters && sum.iterations_total == (uint64_t)iters);
    CHECK(sum.termination == HF_TERMINATION_MAX_ITERATIONS);
    CHECK_STR(hf_termination_str(sum.termination), "maximum number of iterations reached");
    CHECK(sum.cg_iterations_total > 0 && sum.products_total > 0 && sum.evaluations_total > 0);
    CHECK(isfinite(sum.final_test_error));
    printf("curves autoencoder: train error %.3f -> %.3f in %d iterations\n", err0,
           sum.final_train_error, (int)iters);
    CHECK(sum.final_train_error < 0.9 * err0);

    /* The trained network gives the reported error. */
    CHECK_OK(hf_session_copy_net(s, &trained));
    CHECK_OK(hf_net_free(net));
    CHECK_OK(hf_data_curves(n, 1, &train));
    CHECK_OK(hf_net_evaluate(trained, train, &loss1, &err1));
    CHECK(fabs(err1 - sum.final_train_error) <= 1e-4 * err1);
    CHECK(loss1 < loss0);

    CHECK_OK(hf_session_summary_text(s, 0, text, sizeof text));
    CHECK(strstr(text, "HF stopped: maximum number of iterations reached") != NULL);
    CHECK_OK(hf_session_summary_text(s, 1, text, sizeof text));
    CHECK(strstr(text, "curvature products:") != NULL);
    CHECK_OK(hf_session_report_text(s, text, sizeof text));
    CHECK(strncmp(text, "iter ", 5) == 0);
    CHECK_ERR(hf_session_summary_text(s, 1, text, 10), HF_ERR_BUFFER_TOO_SMALL,
              "buffer 'buf' holds 10 bytes");

    CHECK_OK(hf_data_free(train));
    CHECK_OK(hf_net_free(trained));
    CHECK_OK(hf_session_free(s));
}

/* ---- The callback stops the run; stop requests; re-entrant calls. ---- */

/* Asks to stop at the second iteration of a run; `user` counts the calls. */
static int stop_at_two(void *user, const hf_iteration_report *r) {
    int *calls = (int *)user;
    (void)r;
    return ++*calls == 2 ? 1 : 0;
}

typedef struct {
    hf_session *s;
    int calls;
    hf_status stop_status, reentrant_status, other_status;
    char reentrant_message[256];
} inside_log;

/* At the run's first iteration: asks for a stop from inside, and tries a
 * re-entrant call. */
static int stop_from_inside(void *user, const hf_iteration_report *r) {
    inside_log *log = (inside_log *)user;
    float theta[200];
    (void)r;
    if (++log->calls == 1) {
        log->stop_status = hf_session_request_stop(log->s);
        log->reentrant_status = hf_session_get_params(log->s, theta, 200);
        snprintf(log->reentrant_message, sizeof log->reentrant_message, "%s", last_error());
        log->other_status = hf_termination_str(0) != NULL ? HF_OK : HF_ERR_INTERNAL;
    }
    return 0;
}

static void test_callback_and_stop(hf_data *train, hf_net *net) {
    hf_config *cfg = tiny_config(50);
    hf_session *s = NULL;
    hf_summary sum;
    inside_log log;
    uint64_t it = 0;
    int calls = 0;

    CHECK_OK(hf_session_new(net, train, NULL, cfg, &s));
    CHECK_OK(hf_session_run(s, stop_at_two, &calls, &sum));
    CHECK(sum.iterations == 2 && sum.termination == HF_TERMINATION_CALLBACK_STOP);
    CHECK_STR(hf_termination_str(sum.termination), "progress callback asked to stop");
    CHECK(isnan(sum.final_test_error)); /* no test set */

    memset(&log, 0, sizeof log);
    log.s = s;
    CHECK_OK(hf_session_run(s, stop_from_inside, &log, &sum));
    CHECK(sum.iterations == 1 && sum.termination == HF_TERMINATION_STOP_REQUESTED);
    CHECK(log.stop_status == HF_OK && log.other_status == HF_OK);
    CHECK(log.reentrant_status == HF_ERR_UNSUPPORTED);
    CHECK(strstr(log.reentrant_message,
                 "hf_session_get_params: argument 'session' is running on this thread") != NULL);

    /* A request made between runs stops the next run before its first step. */
    CHECK_OK(hf_session_request_stop(s));
    CHECK_OK(hf_session_run(s, NULL, NULL, &sum));
    CHECK(sum.iterations == 0 && sum.termination == HF_TERMINATION_STOP_REQUESTED);
    /* A run that does no iteration reports the last known metrics. */
    CHECK(isfinite(sum.final_objective));
    calls = 0;
    CHECK_OK(hf_session_run(s, stop_at_two, &calls, NULL)); /* NULL summary is allowed */
    CHECK_OK(hf_session_iteration(s, &it));
    CHECK(it == 5);

    CHECK_OK(hf_session_free(s));
    CHECK_OK(hf_config_free(cfg));
}

/* ---- hf_session_request_stop from another thread during hf_session_run. ---- */

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t progressed;
    int iterations;
    hf_session *s;
    hf_status run_status;
    hf_summary sum;
} shared_run;

static int count_progress(void *user, const hf_iteration_report *r) {
    shared_run *sr = (shared_run *)user;
    (void)r;
    pthread_mutex_lock(&sr->lock);
    sr->iterations++;
    pthread_cond_signal(&sr->progressed);
    pthread_mutex_unlock(&sr->lock);
    return 0;
}

static void *run_in_thread(void *arg) {
    shared_run *sr = (shared_run *)arg;
    sr->run_status = hf_session_run(sr->s, count_progress, sr, &sr->sum);
    return NULL;
}

static void test_stop_from_another_thread(hf_data *train, hf_net *net) {
    hf_config *cfg = tiny_config(5000); /* far more than the test waits for */
    shared_run sr;
    pthread_t runner;

    memset(&sr, 0, sizeof sr);
    pthread_mutex_init(&sr.lock, NULL);
    pthread_cond_init(&sr.progressed, NULL);
    sr.run_status = HF_ERR_INTERNAL;
    CHECK_OK(hf_session_new(net, train, NULL, cfg, &sr.s));
    CHECK(pthread_create(&runner, NULL, run_in_thread, &sr) == 0);
    pthread_mutex_lock(&sr.lock);
    while (sr.iterations < 3) pthread_cond_wait(&sr.progressed, &sr.lock);
    pthread_mutex_unlock(&sr.lock);
    /* The run is in progress on the other thread: this must not wait for it. */
    CHECK_OK(hf_session_request_stop(sr.s));
    CHECK(pthread_join(runner, NULL) == 0);
    CHECK(sr.run_status == HF_OK);
    CHECK(sr.sum.termination == HF_TERMINATION_STOP_REQUESTED);
    CHECK(sr.sum.iterations >= 3 && sr.sum.iterations < 5000);
    CHECK(sr.sum.iterations == (uint64_t)sr.iterations);
    CHECK_OK(hf_session_free(sr.s));
    CHECK_OK(hf_config_free(cfg));
    pthread_cond_destroy(&sr.progressed);
    pthread_mutex_destroy(&sr.lock);
}

/* ---- Save, resume, and continue bit-identically. ---- */

static void test_save_resume(hf_data *train, hf_net *net) {
    hf_config *two = tiny_config(2), *four = tiny_config(4), *got = NULL;
    hf_session *a = NULL, *b = NULL, *c = NULL;
    hf_iteration_report rep;
    hf_summary sum;
    size_t p = 0;
    float *theta_a, *theta_b;
    char path[128], bad[128], missing[128];
    uint64_t it = 0;
    double lambda_a = 0, lambda_b = 0;
    int64_t max_iters = 0;
    FILE *f;
    const size_t other_encoder[2] = {TD, 3};
    hf_net *other = NULL;

    snprintf(path, sizeof path, "%s/session.hfs", scratch);
    snprintf(bad, sizeof bad, "%s/bad.hfs", scratch);
    snprintf(missing, sizeof missing, "%s/missing/session.hfs", scratch);
    CHECK_OK(hf_session_new(net, train, NULL, two, &a));
    CHECK_OK(hf_session_run(a, NULL, NULL, NULL));
    CHECK_OK(hf_session_save(a, path));
    CHECK_OK(hf_session_set_config(a, four));
    CHECK_OK(hf_session_get_config(a, &got));
    CHECK_OK(hf_config_get_i64(got, "max_iters", &max_iters));
    CHECK(max_iters == 4);
    CHECK_OK(hf_session_run(a, NULL, NULL, &sum));
    CHECK(sum.iterations == 2 && sum.iterations_total == 4);

    CHECK_OK(hf_session_resume(net, train, NULL, four, path, &b));
    CHECK_OK(hf_session_iteration(b, &it));
    CHECK(it == 2);
    CHECK_OK(hf_session_run(b, NULL, NULL, &sum));
    CHECK(sum.iterations == 2 && sum.iterations_total == 4);

    CHECK_OK(hf_session_num_params(a, &p));
    theta_a = (float *)malloc(p * sizeof(float));
    theta_b = (float *)malloc(p * sizeof(float));
    CHECK_OK(hf_session_get_params(a, theta_a, p));
    CHECK_OK(hf_session_get_params(b, theta_b, p));
    CHECK(memcmp(theta_a, theta_b, p * sizeof(float)) == 0);
    CHECK_OK(hf_session_lambda(a, &lambda_a));
    CHECK_OK(hf_session_lambda(b, &lambda_b));
    CHECK(lambda_a == lambda_b);

    /* Resumed with the saved options (max_iters = 2), a run does nothing. */
    CHECK_OK(hf_session_resume(net, train, NULL, NULL, path, &c));
    CHECK_OK(hf_session_run(c, NULL, NULL, &sum));
    CHECK(sum.iterations == 0 && sum.termination == HF_TERMINATION_MAX_ITERATIONS);
    /* Single steps ignore the limit. */
    CHECK_OK(hf_session_step(c, &rep));
    CHECK(rep.iteration == 3 && rep.chunk_len == 20);
    CHECK(rep.cg_stop != HF_CG_NONE || rep.rejected);
    CHECK_OK(hf_session_step(c, NULL));

    /* Bad files and paths. */
    {
        hf_session *none = (hf_session *)(uintptr_t)0x5eed;
        CHECK_ERR(hf_session_resume(net, train, NULL, NULL, missing, &none), HF_ERR_IO,
                  "cannot read session file");
        f = fopen(bad, "wb");
        if (f) {
            fputs("not a session file at all, just text", f);
            fclose(f);
        }
        CHECK_ERR(hf_session_resume(net, train, NULL, NULL, bad, &none), HF_ERR_FORMAT,
                  "bad.hfs");
        CHECK_OK(hf_net_new_autoencoder(other_encoder, 2, HF_ACT_LOGISTIC, 1, &other));
        CHECK_ERR(hf_session_resume(other, train, NULL, NULL, path, &none), HF_ERR_SHAPE_MISMATCH,
                  "session has 76 parameters, the objective has");
        CHECK_ERR(hf_session_resume(net, train, NULL, NULL, NULL, &none), HF_ERR_NULL_POINTER,
                  "'path'");
        CHECK_ERR(hf_session_resume(net, train, NULL, NULL, path, NULL), HF_ERR_NULL_POINTER,
                  "'out'");
        CHECK_ERR(hf_session_save(a, missing), HF_ERR_IO, "missing");
        CHECK_ERR(hf_session_save(a, NULL), HF_ERR_NULL_POINTER, "'path'");
        CHECK_ERR(hf_session_save(a, ""), HF_ERR_INVALID_ARGUMENT, "empty path");
        CHECK(none == (hf_session *)(uintptr_t)0x5eed);
        CHECK_OK(hf_net_free(other));
    }

    remove(path);
    remove(bad);
    free(theta_a);
    free(theta_b);
    CHECK_OK(hf_session_free(a));
    CHECK_OK(hf_session_free(b));
    CHECK_OK(hf_session_free(c));
    CHECK_OK(hf_config_free(two));
    CHECK_OK(hf_config_free(four));
    CHECK_OK(hf_config_free(got));
}

/* ---- Bad arguments. ---- */

static void test_bad_arguments(hf_data *train, hf_net *net) {
    hf_session *s = NULL, *none = (hf_session *)(uintptr_t)0x5eed, *freed = NULL;
    hf_config *cfg = NULL;
    hf_data *wrong_width = NULL;
    hf_net *out_net = (hf_net *)(uintptr_t)0x5eed;
    const float x[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
    float theta[76];
    size_t p = 0;
    uint64_t it = 99;
    double lambda = -1;
    char buf[8] = "abc";

    CHECK_OK(hf_data_new_autoencoder(2, 3, x, 6, &wrong_width));
    CHECK_OK(hf_config_new(&cfg));

    /* Creation. */
    CHECK_ERR(hf_session_new(NULL, train, NULL, NULL, &none), HF_ERR_NULL_POINTER,
              "hf_session_new: argument 'net' is NULL");
    CHECK_ERR(hf_session_new(net, NULL, NULL, NULL, &none), HF_ERR_NULL_POINTER,
              "argument 'train' is NULL");
    CHECK_ERR(hf_session_new(net, train, NULL, NULL, NULL), HF_ERR_NULL_POINTER, "'out'");
    CHECK_ERR(hf_session_new((const hf_net *)train, train, NULL, NULL, &none),
              HF_ERR_INVALID_HANDLE, "argument 'net' is a hf_data handle, expected hf_net");
    CHECK_ERR(hf_session_new(net, (const hf_data *)net, NULL, NULL, &none), HF_ERR_INVALID_HANDLE,
              "argument 'train' is a hf_net handle, expected hf_data");
    CHECK_ERR(hf_session_new(net, train, (const hf_data *)cfg, NULL, &none),
              HF_ERR_INVALID_HANDLE, "argument 'test' is a hf_config handle");
    CHECK_ERR(hf_session_new(net, train, NULL, (const hf_config *)train, &none),
              HF_ERR_INVALID_HANDLE, "argument 'cfg' is a hf_data handle, expected hf_config");
    CHECK_ERR(hf_session_new(net, wrong_width, NULL, NULL, &none), HF_ERR_SHAPE_MISMATCH,
              "training data is 3→3 wide but the network maps 8→8");
    CHECK_ERR(hf_session_new(net, train, wrong_width, NULL, &none), HF_ERR_SHAPE_MISMATCH,
              "test data is 3→3 wide");
    CHECK_OK(hf_config_set_str(cfg, "backend", "cuda"));
    CHECK_ERR(hf_session_new(net, train, NULL, cfg, &none), HF_ERR_BACKEND_UNAVAILABLE,
              "the CUDA backend is unavailable: ");
    CHECK_OK(hf_config_set_str(cfg, "backend", "cpu"));
    CHECK_OK(hf_config_set_f64(cfg, "lambda_min", 10.0));
    CHECK_OK(hf_config_set_f64(cfg, "lambda_max", 1.0));
    CHECK_ERR(hf_session_new(net, train, NULL, cfg, &none), HF_ERR_OUT_OF_RANGE,
              "lambda_min (10) must not exceed lambda_max (1)");
    CHECK_OK(hf_config_set_f64(cfg, "lambda_min", 0.0));
    CHECK(none == (hf_session *)(uintptr_t)0x5eed);

    /* A working session, then bad calls on it. */
    CHECK_OK(hf_session_new(net, train, NULL, cfg, &s));
    CHECK_ERR(hf_session_summary_text(s, 0, buf, sizeof buf), HF_ERR_INVALID_ARGUMENT,
              "no hf_session_run has finished on this session yet");
    CHECK_ERR(hf_session_report_text(s, buf, sizeof buf), HF_ERR_INVALID_ARGUMENT,
              "no iteration has run");
    CHECK_ERR(hf_session_get_params(s, theta, 75), HF_ERR_BUFFER_TOO_SMALL,
              "out_len is 75, need the number of parameters = 76");
    CHECK_ERR(hf_session_get_params(s, NULL, 76), HF_ERR_NULL_POINTER, "'out'");
    CHECK_ERR(hf_session_num_params(s, NULL), HF_ERR_NULL_POINTER, "'count'");
    CHECK_ERR(hf_session_iteration(s, NULL), HF_ERR_NULL_POINTER, "'iteration'");
    CHECK_ERR(hf_session_lambda(s, NULL), HF_ERR_NULL_POINTER, "'lambda'");
    CHECK_ERR(hf_session_copy_net(s, NULL), HF_ERR_NULL_POINTER, "'out'");
    CHECK_ERR(hf_session_get_config(s, NULL), HF_ERR_NULL_POINTER, "'out'");
    CHECK_ERR(hf_session_set_config(s, NULL), HF_ERR_NULL_POINTER, "'cfg'");
    CHECK_ERR(hf_session_backend_name(s, NULL, 64), HF_ERR_NULL_POINTER, "'buf'");
    CHECK_ERR(hf_session_backend_name(s, buf, 2), HF_ERR_BUFFER_TOO_SMALL, "holds 2 bytes");
    CHECK_STR(buf, "abc");
    CHECK_OK(hf_config_set_f64(cfg, "rho_low", 0.99));
    CHECK_ERR(hf_session_set_config(s, cfg), HF_ERR_OUT_OF_RANGE, "rho_low (0.99)");
    CHECK_OK(hf_config_set_f64(cfg, "rho_low", 0.25));
    CHECK_ERR(hf_session_step(NULL, NULL), HF_ERR_NULL_POINTER, "'session'");
    CHECK_ERR(hf_session_run(NULL, NULL, NULL, NULL), HF_ERR_NULL_POINTER, "'session'");
    CHECK_ERR(hf_session_request_stop(NULL), HF_ERR_NULL_POINTER, "'session'");
    CHECK_ERR(hf_session_step((hf_session *)net, NULL), HF_ERR_INVALID_HANDLE,
              "argument 'session' is a hf_net handle, expected hf_session");
    CHECK_ERR(hf_session_request_stop((const hf_session *)(uintptr_t)0x77), HF_ERR_INVALID_HANDLE,
              "never created");
    CHECK_ERR(hf_session_free((hf_session *)cfg), HF_ERR_INVALID_HANDLE, "expected hf_session");
    CHECK_ERR(hf_net_free((hf_net *)s), HF_ERR_INVALID_HANDLE, "a hf_session handle");

    /* Freed handle; double free. */
    CHECK_OK(hf_session_new(net, train, NULL, cfg, &freed));
    CHECK_OK(hf_session_free(freed));
    CHECK_ERR(hf_session_step(freed, NULL), HF_ERR_INVALID_HANDLE,
              "argument 'session' is a hf_session handle that has already been freed");
    CHECK_ERR(hf_session_request_stop(freed), HF_ERR_INVALID_HANDLE, "already been freed");
    CHECK_ERR(hf_session_iteration(freed, &it), HF_ERR_INVALID_HANDLE, "already been freed");
    CHECK_OK(hf_session_free(freed));
    CHECK_OK(hf_session_free(NULL));
    CHECK(it == 99 && lambda == -1 && out_net == (hf_net *)(uintptr_t)0x5eed);

    /* Still usable after all that. */
    CHECK_OK(hf_session_step(s, NULL));
    CHECK_OK(hf_session_iteration(s, &it));
    CHECK(it == 1);
    CHECK_OK(hf_session_num_params(s, &p));
    CHECK(p == 76);
    CHECK_OK(hf_session_copy_net(s, &out_net));
    CHECK_OK(hf_net_free(out_net));

    CHECK_OK(hf_session_free(s));
    CHECK_OK(hf_data_free(wrong_width));
    CHECK_OK(hf_config_free(cfg));
}

int main(void) {
    hf_data *train;
    hf_net *net;
    strcpy(scratch, "/tmp/hessfree_test_session_XXXXXX");
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return 1;
    }
    test_training_reduces_error();
    train = tiny_data();
    net = tiny_net();
    test_callback_and_stop(train, net);
    test_stop_from_another_thread(train, net);
    test_save_resume(train, net);
    test_bad_arguments(train, net);
    CHECK_OK(hf_net_free(net));
    CHECK_OK(hf_data_free(train));
    rmdir(scratch);
    return check_summary("test_session");
}
