/*
 * C host test of a session over a host-defined objective: linear least
 * squares f(x) = 1/2 |A x - b|^2 / m written entirely in C (gradient
 * A^T(Ax - b)/m, Gauss-Newton = Hessian = A^T A/m on a chunk of rows) is
 * trained by HF to the solution of the normal equations computed here. A
 * callback that fails stops the run with HF_ERR_CALLBACK naming it, and the
 * session stays usable; a NaN from a callback rejects that step only;
 * save/resume continues bit-identically; and bad callback structs, θ0 and
 * options give their documented statuses.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

enum { M = 40, D = 5 };

typedef struct {
    double a[M][D], b[M];
    size_t chunk_start, chunk_len;
    int32_t kind;
    float theta_chunk[D];
    /* Call counters and injected faults. */
    int loss_calls, chunk_calls, product_calls, chunk_loss_calls;
    const char *fail_in; /* callback name to fail in, or NULL */
    int fail_at;         /* ...at this call number of that callback (1-based) */
    int fail_rc;
    int nan_at_loss_call; /* loss_grad writes NaN at this call (0 = never) */
    /* Re-entrant calls made from inside loss_grad. */
    hf_session *session;
    hf_status reentrant_status, stop_status;
    int max_chunk_start_seen, bad_args;
} lsq;

static int should_fail(lsq *p, const char *name, int call) {
    return p->fail_in && strcmp(p->fail_in, name) == 0 && call == p->fail_at;
}

static double residual(const lsq *p, const float *x, int i) {
    double r = -p->b[i];
    int j;
    for (j = 0; j < D; j++) r += p->a[i][j] * x[j];
    return r;
}

static int loss_grad(void *user, const float *theta, size_t n, double *loss, float *grad,
                     float *stat) {
    lsq *p = (lsq *)user;
    double g[D] = {0}, s[D] = {0}, f = 0;
    int i, j;
    p->loss_calls++;
    if (n != D || !theta || !loss) p->bad_args++;
    if (should_fail(p, "loss_grad", p->loss_calls)) return p->fail_rc;
    if (p->session) {
        uint64_t it;
        p->reentrant_status = hf_session_iteration(p->session, &it);
        p->stop_status = hf_session_request_stop(p->session);
        p->session = NULL;
    }
    for (i = 0; i < M; i++) {
        double r = residual(p, theta, i);
        f += 0.5 * r * r;
        for (j = 0; j < D; j++) {
            g[j] += p->a[i][j] * r;
            s[j] += (p->a[i][j] * r) * (p->a[i][j] * r);
        }
    }
    *loss = p->loss_calls == p->nan_at_loss_call ? NAN : f / M;
    for (j = 0; j < D; j++) {
        if (grad) grad[j] = (float)(g[j] / M);
        if (stat) stat[j] = (float)(s[j] / M);
    }
    return 0;
}

static int set_chunk(void *user, const float *theta, size_t n, size_t start, size_t len,
                     int32_t kind) {
    lsq *p = (lsq *)user;
    p->chunk_calls++;
    if (n != D || start + len > M || len == 0) p->bad_args++;
    if (should_fail(p, "set_chunk", p->chunk_calls)) return p->fail_rc;
    p->chunk_start = start;
    p->chunk_len = len;
    p->kind = kind;
    if ((int)start > p->max_chunk_start_seen) p->max_chunk_start_seen = (int)start;
    memcpy(p->theta_chunk, theta, sizeof p->theta_chunk);
    return 0;
}

/* Gauss-Newton (= Hessian) of the chunk: A_c^T A_c v / len. */
static int curvature_product(void *user, const float *v, size_t n, float *out) {
    lsq *p = (lsq *)user;
    double acc[D] = {0};
    size_t i;
    int j;
    p->product_calls++;
    if (n != D) p->bad_args++;
    if (should_fail(p, "curvature_product", p->product_calls)) return p->fail_rc;
    for (i = p->chunk_start; i < p->chunk_start + p->chunk_len; i++) {
        double av = 0;
        for (j = 0; j < D; j++) av += p->a[i][j] * v[j];
        for (j = 0; j < D; j++) acc[j] += p->a[i][j] * av;
    }
    for (j = 0; j < D; j++) out[j] = (float)(acc[j] / (double)p->chunk_len);
    return 0;
}

static int chunk_loss(void *user, const float *theta, size_t n, double *loss) {
    lsq *p = (lsq *)user;
    double f = 0;
    size_t i;
    p->chunk_loss_calls++;
    if (n != D) p->bad_args++;
    if (should_fail(p, "chunk_loss", p->chunk_loss_calls)) return p->fail_rc;
    for (i = p->chunk_start; i < p->chunk_start + p->chunk_len; i++) {
        double r = residual(p, theta, (int)i);
        f += 0.5 * r * r;
    }
    *loss = f / (double)p->chunk_len;
    return 0;
}

static const double x_true[D] = {1.0, -2.0, 0.5, 3.0, -1.0};

static void make_problem(lsq *p) {
    int i, j;
    memset(p, 0, sizeof *p);
    for (i = 0; i < M; i++) {
        p->b[i] = 0.05 * cos(3.0 * i); /* noise: the solution is not exactly x_true */
        for (j = 0; j < D; j++) {
            p->a[i][j] = sin(1.1 * i + 0.7 * j * j + 0.3) + (j == i % D ? 1.0 : 0.0);
            p->b[i] += p->a[i][j] * x_true[j];
        }
    }
}

/* The least-squares solution by the normal equations, in double. */
static void solve_normal_equations(const lsq *p, double *x) {
    double n[D][D + 1];
    int i, j, k;
    for (j = 0; j < D; j++) {
        for (k = 0; k < D; k++) {
            n[j][k] = 0;
            for (i = 0; i < M; i++) n[j][k] += p->a[i][j] * p->a[i][k];
        }
        n[j][D] = 0;
        for (i = 0; i < M; i++) n[j][D] += p->a[i][j] * p->b[i];
    }
    for (j = 0; j < D; j++) { /* Gaussian elimination with partial pivoting */
        int piv = j;
        for (k = j + 1; k < D; k++)
            if (fabs(n[k][j]) > fabs(n[piv][j])) piv = k;
        for (k = 0; k <= D; k++) {
            double t = n[j][k];
            n[j][k] = n[piv][k];
            n[piv][k] = t;
        }
        for (k = j + 1; k < D; k++) {
            double f = n[k][j] / n[j][j];
            for (i = j; i <= D; i++) n[k][i] -= f * n[j][i];
        }
    }
    for (j = D - 1; j >= 0; j--) {
        x[j] = n[j][D];
        for (k = j + 1; k < D; k++) x[j] -= n[j][k] * x[k];
        x[j] /= n[j][j];
    }
}

static hf_objective_callbacks callbacks_for(lsq *p) {
    hf_objective_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.user = p;
    cb.num_params = D;
    cb.num_examples = M;
    cb.loss_grad = loss_grad;
    cb.set_chunk = set_chunk;
    cb.curvature_product = curvature_product;
    cb.chunk_loss = NULL;
    cb.curvature_kinds = 0; /* Gauss-Newton only */
    cb.provides_precond_stat = 0;
    return cb;
}

static hf_config *lsq_config(int64_t max_iters, int64_t chunk) {
    hf_config *cfg = NULL;
    CHECK_OK(hf_config_new(&cfg));
    CHECK_OK(hf_config_set_f64(cfg, "initial_lambda", 1.0));
    CHECK_OK(hf_config_set_i64(cfg, "max_iters", max_iters));
    CHECK_OK(hf_config_set_i64(cfg, "chunk_size", chunk));
    return cfg;
}

static const float theta0[D] = {0, 0, 0, 0, 0};

static double max_abs_diff(const float *a, const double *b) {
    double m = 0;
    int j;
    for (j = 0; j < D; j++)
        if (fabs(a[j] - b[j]) > m) m = fabs(a[j] - b[j]);
    return m;
}

static void test_trains_to_the_solution(void) {
    lsq p;
    hf_objective_callbacks cb;
    hf_config *cfg = lsq_config(40, 0);
    hf_session *s = NULL;
    hf_summary sum;
    hf_net *net = (hf_net *)(uintptr_t)0x5eed;
    double x_ls[D], f_ls = 0;
    float x[D], xf[D];
    char name[64];
    int i, j;

    make_problem(&p);
    solve_normal_equations(&p, x_ls);
    for (j = 0; j < D; j++) xf[j] = (float)x_ls[j];
    for (i = 0; i < M; i++) f_ls += 0.5 * residual(&p, xf, i) * residual(&p, xf, i) / M;
    CHECK(max_abs_diff(xf, x_true) < 0.05); /* the problem is what we think it is */

    cb = callbacks_for(&p);
    CHECK_OK(hf_session_new_host(&cb, theta0, D, cfg, &s));
    CHECK_OK(hf_session_backend_name(s, name, sizeof name));
    CHECK_STR(name, "host objective (callbacks)");
    CHECK_OK(hf_session_run(s, NULL, NULL, &sum));
    CHECK(sum.termination == HF_TERMINATION_MAX_ITERATIONS && sum.iterations == 40);
    CHECK(isnan(sum.final_train_error) && isnan(sum.final_test_error));
    CHECK_OK(hf_session_get_params(s, x, D));
    printf("least squares (full chunks): |x - x_ls|_inf = %.2e, f - f_ls = %.2e\n",
           max_abs_diff(x, x_ls), sum.final_objective - f_ls);
    CHECK(max_abs_diff(x, x_ls) < 1e-3);
    CHECK(fabs(sum.final_objective - f_ls) < 1e-6 * (1 + f_ls));
    CHECK(p.chunk_len == M && p.chunk_start == 0 && p.kind == HF_CURVATURE_GAUSS_NEWTON);
    CHECK(p.chunk_loss_calls == 0 && p.bad_args == 0);
    CHECK_ERR(hf_session_copy_net(s, &net), HF_ERR_UNSUPPORTED,
              "the session trains a host-defined objective, not an hf_net");
    CHECK(net == (hf_net *)(uintptr_t)0x5eed);
    CHECK_OK(hf_session_free(s));
    CHECK_OK(hf_config_free(cfg));
}

static void test_chunks_precond_and_hessian(void) {
    lsq p;
    hf_objective_callbacks cb;
    hf_config *cfg = lsq_config(100, 20);
    hf_session *s = NULL;
    hf_summary sum;
    hf_iteration_report rep;
    double x_ls[D];
    float x[D];

    make_problem(&p);
    solve_normal_equations(&p, x_ls);
    cb = callbacks_for(&p);
    cb.chunk_loss = chunk_loss;
    cb.provides_precond_stat = 1;
    CHECK_OK(hf_config_set_str(cfg, "chunk_order", "random"));
    CHECK_OK(hf_session_new_host(&cb, theta0, D, cfg, &s));
    CHECK_OK(hf_session_run(s, NULL, NULL, &sum));
    CHECK_OK(hf_session_get_params(s, x, D));
    printf("least squares (chunks of 20, preconditioned): |x - x_ls|_inf = %.2e\n",
           max_abs_diff(x, x_ls));
    CHECK(max_abs_diff(x, x_ls) < 1e-3);
    CHECK(p.chunk_len == 20 && p.chunk_loss_calls > 0 && p.max_chunk_start_seen > 0);
    CHECK(p.bad_args == 0);
    CHECK_OK(hf_session_free(s));

    /* Curvature kinds: Hessian only when declared. */
    CHECK_OK(hf_config_set_str(cfg, "curvature", "hessian"));
    s = (hf_session *)(uintptr_t)0x5eed;
    CHECK_ERR(hf_session_new_host(&cb, theta0, D, cfg, &s), HF_ERR_UNSUPPORTED,
              "the objective does not support curvature 'hessian'");
    CHECK(s == (hf_session *)(uintptr_t)0x5eed);
    cb.curvature_kinds = (1u << HF_CURVATURE_GAUSS_NEWTON) | (1u << HF_CURVATURE_HESSIAN);
    CHECK_OK(hf_session_new_host(&cb, theta0, D, cfg, &s));
    CHECK_OK(hf_session_step(s, &rep));
    CHECK(p.kind == HF_CURVATURE_HESSIAN && rep.rejected == 0 && rep.iteration == 1);
    CHECK_OK(hf_session_free(s));
    CHECK_OK(hf_config_free(cfg));
}

static void test_callback_failures(void) {
    lsq p;
    hf_objective_callbacks cb;
    hf_config *cfg = lsq_config(5, 0);
    hf_session *s = NULL;
    hf_iteration_report rep;
    hf_summary sum;
    uint64_t it = 99;
    float x[D];
    double lambda = 0;
    int i;

    make_problem(&p);
    cb = callbacks_for(&p);
    cb.chunk_loss = chunk_loss;
    CHECK_OK(hf_session_new_host(&cb, theta0, D, cfg, &s));

    /* Fails inside the first iteration: nothing is committed. */
    p.fail_in = "curvature_product";
    p.fail_at = 3;
    p.fail_rc = 7;
    memset(&sum, 0x55, sizeof sum);
    CHECK_ERR(hf_session_run(s, NULL, NULL, &sum), HF_ERR_CALLBACK,
              "hf_session_run: host callback 'curvature_product' returned 7 (nonzero = failure)");
    CHECK(sum.iterations == 0x5555555555555555ULL); /* summary not written on error */
    CHECK_OK(hf_session_iteration(s, &it));
    CHECK(it == 0);
    CHECK_OK(hf_session_get_params(s, x, D));
    CHECK(memcmp(x, theta0, sizeof x) == 0);
    CHECK_OK(hf_session_lambda(s, &lambda));
    CHECK(lambda == 1.0);

    p.fail_in = "loss_grad";
    p.fail_at = p.loss_calls + 1;
    p.fail_rc = -1;
    CHECK_ERR(hf_session_step(s, &rep), HF_ERR_CALLBACK,
              "hf_session_step: host callback 'loss_grad' returned -1");
    p.fail_in = "set_chunk";
    p.fail_at = p.chunk_calls + 1;
    p.fail_rc = 2;
    CHECK_ERR(hf_session_step(s, &rep), HF_ERR_CALLBACK, "host callback 'set_chunk' returned 2");
    p.fail_in = "chunk_loss";
    p.fail_at = p.chunk_loss_calls + 1;
    p.fail_rc = 3;
    CHECK_ERR(hf_session_step(s, &rep), HF_ERR_CALLBACK, "host callback 'chunk_loss' returned 3");
    CHECK_OK(hf_session_iteration(s, &it));
    CHECK(it == 0);

    /* A NaN loss is not an error: the step is rejected, λ raised, θ kept. */
    p.fail_in = NULL;
    p.nan_at_loss_call = p.loss_calls + 1;
    CHECK_OK(hf_session_step(s, &rep));
    CHECK(rep.rejected == 1 && rep.reject_reason == HF_REJECT_NON_FINITE_GRADIENT);
    CHECK_STR(hf_reject_reason_str(rep.reject_reason), "objective or gradient at theta is NaN/Inf");
    CHECK(rep.lambda > 1.0 && rep.cg_stop == HF_CG_NONE);
    CHECK_OK(hf_session_get_params(s, x, D));
    CHECK(memcmp(x, theta0, sizeof x) == 0);

    /* Then it carries on normally. */
    CHECK_OK(hf_session_run(s, NULL, NULL, &sum));
    CHECK(sum.termination == HF_TERMINATION_MAX_ITERATIONS && sum.iterations_total == 5);
    {
        double f0 = 0;
        for (i = 0; i < M; i++) f0 += 0.5 * p.b[i] * p.b[i] / M; /* f(theta0 = 0) */
        CHECK(sum.final_objective < 0.1 * f0);
    }

    /* Inside a callback: re-entrant calls are refused, a stop request works. */
    CHECK_OK(hf_config_set_i64(cfg, "max_iters", 50));
    CHECK_OK(hf_session_set_config(s, cfg));
    p.session = s;
    CHECK_OK(hf_session_run(s, NULL, NULL, &sum));
    CHECK(p.reentrant_status == HF_ERR_UNSUPPORTED && p.stop_status == HF_OK);
    CHECK(sum.termination == HF_TERMINATION_STOP_REQUESTED && sum.iterations == 1);
    CHECK(p.bad_args == 0);

    CHECK_OK(hf_session_free(s));
    CHECK_OK(hf_config_free(cfg));
}

static void test_save_resume(void) {
    lsq p;
    hf_objective_callbacks cb;
    hf_config *three = lsq_config(3, 20), *six = lsq_config(6, 20);
    hf_session *a = NULL, *b = NULL;
    float xa[D], xb[D];
    char path[64] = "/tmp/hessfree_test_host_XXXXXX", file[96];
    hf_summary sum;

    if (!mkdtemp(path)) {
        CHECK(0);
        return;
    }
    snprintf(file, sizeof file, "%s/lsq.hfs", path);
    make_problem(&p);
    cb = callbacks_for(&p);
    cb.chunk_loss = chunk_loss;
    CHECK_OK(hf_session_new_host(&cb, theta0, D, three, &a));
    CHECK_OK(hf_session_run(a, NULL, NULL, NULL));
    CHECK_OK(hf_session_save(a, file));
    CHECK_OK(hf_session_set_config(a, six));
    CHECK_OK(hf_session_run(a, NULL, NULL, NULL));
    CHECK_OK(hf_session_resume_host(&cb, six, file, &b));
    CHECK_OK(hf_session_run(b, NULL, NULL, &sum));
    CHECK(sum.iterations == 3 && sum.iterations_total == 6);
    CHECK_OK(hf_session_get_params(a, xa, D));
    CHECK_OK(hf_session_get_params(b, xb, D));
    CHECK(memcmp(xa, xb, sizeof xa) == 0);

    cb.num_params = D + 1;
    CHECK_ERR(hf_session_resume_host(&cb, six, file, &b), HF_ERR_SHAPE_MISMATCH,
              "session has 5 parameters, the objective has 6");
    cb.num_params = D;
    CHECK_ERR(hf_session_resume_host(NULL, six, file, &b), HF_ERR_NULL_POINTER, "'callbacks'");
    CHECK_ERR(hf_session_resume_host(&cb, six, NULL, &b), HF_ERR_NULL_POINTER, "'path'");

    remove(file);
    rmdir(path);
    CHECK_OK(hf_session_free(a));
    CHECK_OK(hf_session_free(b));
    CHECK_OK(hf_config_free(three));
    CHECK_OK(hf_config_free(six));
}

static void test_bad_arguments(void) {
    lsq p;
    hf_objective_callbacks cb, bad;
    hf_session *s = (hf_session *)(uintptr_t)0x5eed;
    hf_config *cfg = NULL;
    float t[D] = {0, 0, 0, 0, 0};

    make_problem(&p);
    cb = callbacks_for(&p);
    CHECK_OK(hf_config_new(&cfg));

    CHECK_ERR(hf_session_new_host(NULL, t, D, NULL, &s), HF_ERR_NULL_POINTER,
              "hf_session_new_host: argument 'callbacks' is NULL");
    bad = cb;
    bad.loss_grad = NULL;
    CHECK_ERR(hf_session_new_host(&bad, t, D, NULL, &s), HF_ERR_NULL_POINTER,
              "callback 'callbacks->loss_grad' is NULL (it is required)");
    bad = cb;
    bad.set_chunk = NULL;
    CHECK_ERR(hf_session_new_host(&bad, t, D, NULL, &s), HF_ERR_NULL_POINTER,
              "'callbacks->set_chunk'");
    bad = cb;
    bad.curvature_product = NULL;
    CHECK_ERR(hf_session_new_host(&bad, t, D, NULL, &s), HF_ERR_NULL_POINTER,
              "'callbacks->curvature_product'");
    bad = cb;
    bad.num_params = 0;
    CHECK_ERR(hf_session_new_host(&bad, NULL, 0, NULL, &s), HF_ERR_INVALID_ARGUMENT,
              "callbacks->num_params is 0");
    bad = cb;
    bad.num_examples = 0;
    CHECK_ERR(hf_session_new_host(&bad, t, D, NULL, &s), HF_ERR_INVALID_ARGUMENT,
              "callbacks->num_examples is 0");
    bad = cb;
    bad.curvature_kinds = 8;
    CHECK_ERR(hf_session_new_host(&bad, t, D, NULL, &s), HF_ERR_INVALID_ARGUMENT,
              "callbacks->curvature_kinds = 0x8 has bits beyond");
    CHECK_ERR(hf_session_new_host(&cb, t, D - 1, NULL, &s), HF_ERR_SHAPE_MISMATCH,
              "theta0_len is 4, expected callbacks->num_params = 5");
    CHECK_ERR(hf_session_new_host(&cb, NULL, D, NULL, &s), HF_ERR_NULL_POINTER, "'theta0'");
    CHECK_ERR(hf_session_new_host(&cb, t, D, NULL, NULL), HF_ERR_NULL_POINTER, "'out'");
    t[2] = NAN;
    CHECK_ERR(hf_session_new_host(&cb, t, D, NULL, &s), HF_ERR_NON_FINITE,
              "theta0[2] = NaN is not finite");
    t[2] = 0;
    CHECK_ERR(hf_session_new_host(&cb, t, D, (const hf_config *)(uintptr_t)0x99, &s),
              HF_ERR_INVALID_HANDLE, "argument 'cfg' (0x99) is not a valid hf_config handle");
    CHECK_OK(hf_config_set_i64(cfg, "cg_max_iters", 3));
    CHECK_OK(hf_config_set_i64(cfg, "cg_min_iters", 4));
    CHECK_ERR(hf_session_new_host(&cb, t, D, cfg, &s), HF_ERR_OUT_OF_RANGE,
              "cg_min_iters (4) must not exceed cg_max_iters (3)");
    CHECK(s == (hf_session *)(uintptr_t)0x5eed);
    CHECK(p.loss_calls == 0 && p.chunk_calls == 0); /* creation calls no callback */
    CHECK_OK(hf_config_free(cfg));
}

int main(void) {
    test_trains_to_the_solution();
    test_chunks_precond_and_hessian();
    test_callback_failures();
    test_save_resume();
    test_bad_arguments();
    return check_summary("test_host_objective");
}
