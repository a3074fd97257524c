/*
 * Table-driven bad-input test of the whole C ABI.
 *
 * Every function exported by hessfree.h has rows below (tests/bad_input_coverage.rs
 * fails when a declared hf_* function has none). Each row calls one function with
 * one kind of bad argument that applies to it: NULL in each pointer slot; zero,
 * overflowing and mismatched sizes; NaN/Inf in data and parameters; unknown and
 * out-of-range options; freed, forged and wrong-kind handles; double frees;
 * absurd layer specs; paths that do not exist or cannot be written.
 *
 * A row passes when
 *   - the call returns the documented status;
 *   - for an error, the thread's message starts with the function's name and
 *     contains the row's text naming the problem;
 *   - no out-parameter was written (every output slot holds its sentinel);
 *   - every object of the fixture is still usable and unchanged (follow-up
 *     valid calls: sizes, theta, options, iteration counts).
 * Each row counts as exactly one check, so the closing line
 * "test_bad_input_table: N passed, 0 failed" gives the number of distinct cases.
 * After the table, both sessions still train (a real step each).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* ---------------------------------------------------------------- fixture */

enum { N = 20, D = 6, CODE = 3, HP = 4, BUF = 4096 };

/* A handle value that hessfree never issued: tag 0 (never used). */
#define FORGED(type) ((type *)(uintptr_t)0x1234)
/* A handle with a valid kind tag (tag << 56) but a serial never issued. */
#define FORGED_TAGGED(type, tag) \
    ((type *)(((uintptr_t)(tag) << (sizeof(void *) * 8 - 8)) | (uintptr_t)0xFFFFFFFFFFull))

static struct {
    hf_config *cfg, *cfg_bad, *cfg_hessian;
    hf_data *data, *data_other;
    hf_net *net, *net_small;
    hf_session *session, *host;
    hf_config *freed_cfg;
    hf_data *freed_data;
    hf_net *freed_net;
    hf_session *freed_session;
    float x[N * D];
    float theta0[64];
    size_t p;
    char cfg_text[BUF], session_cfg_text[BUF];
    uint64_t host_iter;
    float host_theta[HP];
    char dir[64], garbage[128], empty[128], net_file[128], session_file[128],
        host_file[128], missing[128], missing_quoted[132];
    int in_callback;
} F;

/* Output slots of every row, reset to sentinels before each row and
 * checked after it: a failing call must not write any of them. */
#define SENT_PTR ((void *)(uintptr_t)0x5e5e5e5e)
#define SENT_SIZE ((size_t)0x5e5e5e5e)
#define SENT_F64 12345.5
#define SENT_FLOAT 777.25f
static struct {
    hf_config *cfg;
    hf_data *data, *data2;
    hf_net *net;
    hf_session *session;
    size_t size, size2, size3;
    uint64_t u64;
    double f64, f64b;
    int64_t i64;
    int i, i2, i3;
    int32_t acts[8];
    const char *str, *str2, *str3, *str4;
    hf_key_type key_type;
    float floats[256];
    char text[BUF];
    size_t sizes[8];
} O;

static void reset_outputs(void) {
    size_t k;
    O.cfg = (hf_config *)SENT_PTR;
    O.data = O.data2 = (hf_data *)SENT_PTR;
    O.net = (hf_net *)SENT_PTR;
    O.session = (hf_session *)SENT_PTR;
    O.size = O.size2 = O.size3 = SENT_SIZE;
    O.u64 = SENT_SIZE;
    O.f64 = O.f64b = SENT_F64;
    O.i64 = (int64_t)SENT_SIZE;
    O.i = O.i2 = O.i3 = 0x5e5e;
    for (k = 0; k < 8; k++) O.acts[k] = 0x5e5e, O.sizes[k] = SENT_SIZE;
    O.str = O.str2 = O.str3 = O.str4 = (const char *)SENT_PTR;
    O.key_type = (hf_key_type)0x5e5e;
    for (k = 0; k < 256; k++) O.floats[k] = SENT_FLOAT;
    memset(O.text, 'Z', sizeof O.text);
}

/* NULL when every output slot still holds its sentinel. */
static const char *outputs_untouched(void) {
    size_t k;
    if (O.cfg != SENT_PTR || O.data != SENT_PTR || O.data2 != SENT_PTR ||
        O.net != SENT_PTR || O.session != SENT_PTR)
        return "a handle out-parameter was written";
    if (O.size != SENT_SIZE || O.size2 != SENT_SIZE || O.size3 != SENT_SIZE ||
        O.u64 != SENT_SIZE || O.i64 != (int64_t)SENT_SIZE)
        return "an integer out-parameter was written";
    if (O.f64 != SENT_F64 || O.f64b != SENT_F64) return "a double out-parameter was written";
    if (O.i != 0x5e5e || O.i2 != 0x5e5e || O.i3 != 0x5e5e || O.key_type != (hf_key_type)0x5e5e)
        return "an int out-parameter was written";
    if (O.str != SENT_PTR || O.str2 != SENT_PTR || O.str3 != SENT_PTR || O.str4 != SENT_PTR)
        return "a string out-parameter was written";
    for (k = 0; k < 8; k++)
        if (O.acts[k] != 0x5e5e || O.sizes[k] != SENT_SIZE) return "an output array was written";
    for (k = 0; k < 256; k++)
        if (O.floats[k] != SENT_FLOAT) return "a float output buffer was written";
    for (k = 0; k < sizeof O.text; k++)
        if (O.text[k] != 'Z') return "a text buffer was written";
    return NULL;
}

/* Setup calls must succeed; a failure here is not a table row. */
static void must(hf_status st, const char *what) {
    if (st != HF_OK) {
        printf("FAIL setup: %s -> %s: %s\n", what, hf_status_str((int)st), last_error());
        exit(1);
    }
}
#define MUST(call) must((call), #call)

/* ---- A host objective: f(x) = 1/2 sum_i (i+1) x_i^2 (HP parameters). ---- */

static int q_loss_grad(void *user, const float *theta, size_t n, double *loss, float *grad,
                       float *stat) {
    size_t i;
    double f = 0;
    (void)user;
    (void)stat;
    for (i = 0; i < n; i++) {
        f += 0.5 * (double)(i + 1) * theta[i] * theta[i];
        if (grad) grad[i] = (float)(i + 1) * theta[i];
    }
    *loss = f;
    return 0;
}

static int q_set_chunk(void *user, const float *theta, size_t n, size_t start, size_t len,
                       int32_t kind) {
    (void)user, (void)theta, (void)n, (void)start, (void)len, (void)kind;
    return 0;
}

static int q_product(void *user, const float *v, size_t n, float *out) {
    size_t i;
    (void)user;
    for (i = 0; i < n; i++) out[i] = (float)(i + 1) * v[i];
    return 0;
}

static hf_objective_callbacks quadratic(void) {
    hf_objective_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.num_params = HP;
    cb.num_examples = 1;
    cb.loss_grad = q_loss_grad;
    cb.set_chunk = q_set_chunk;
    cb.curvature_product = q_product;
    return cb;
}

/* ---- The follow-up check: every fixture object usable and unchanged. ---- */

static const char *fixture_problem(void) {
    size_t n = 0, di = 0, dt = 0, p = 0;
    uint64_t it = 99;
    double lambda = 0;
    float theta[64], back[N * D], host_theta[HP];
    static char text[BUF];
    hf_config *c = NULL;
    int64_t max_iters = -1;

    if (hf_data_size(F.data, &n, &di, &dt) != HF_OK || n != N || di != D || dt != D)
        return "fixture data: hf_data_size changed or failed";
    if (hf_data_copy_inputs(F.data, back, N * D) != HF_OK || memcmp(back, F.x, sizeof back) != 0)
        return "fixture data: inputs changed";
    if (hf_net_num_params(F.net, &p) != HF_OK || p != F.p) return "fixture net: P changed";
    if (hf_net_get_params(F.net, theta, F.p) != HF_OK ||
        memcmp(theta, F.theta0, F.p * sizeof(float)) != 0)
        return "fixture net: theta changed";
    if (hf_config_get_i64(F.cfg, "max_iters", &max_iters) != HF_OK || max_iters != 2)
        return "fixture config: max_iters changed";
    if (hf_config_to_text(F.cfg, text, sizeof text) != HF_OK || strcmp(text, F.cfg_text) != 0)
        return "fixture config: options changed";
    if (hf_session_iteration(F.session, &it) != HF_OK || it != 0)
        return "fixture session: iteration changed";
    if (hf_session_lambda(F.session, &lambda) != HF_OK || !isfinite(lambda))
        return "fixture session: lambda";
    if (hf_session_get_params(F.session, theta, F.p) != HF_OK ||
        memcmp(theta, F.theta0, F.p * sizeof(float)) != 0)
        return "fixture session: theta changed";
    if (hf_session_get_config(F.session, &c) != HF_OK) return "fixture session: get_config";
    if (hf_config_to_text(c, text, sizeof text) != HF_OK || strcmp(text, F.session_cfg_text) != 0) {
        hf_config_free(c);
        return "fixture session: options changed";
    }
    hf_config_free(c);
    if (!F.in_callback) {
        if (hf_session_iteration(F.host, &it) != HF_OK || it != F.host_iter)
            return "fixture host session: iteration changed";
        if (hf_session_get_params(F.host, host_theta, HP) != HF_OK ||
            memcmp(host_theta, F.host_theta, sizeof host_theta) != 0)
            return "fixture host session: theta changed";
    }
    return NULL;
}

/* ---------------------------------------------------------------- rows */

static int rows = 0;

static void record(int line, const char *expr, const char *problem, const char *detail) {
    char buf[BUF + 512];
    rows++;
    if (problem)
        snprintf(buf, sizeof buf, "%s%s%s", problem, detail ? ": " : "", detail ? detail : "");
    check_record_(problem == NULL, expr, __FILE__, line, problem ? buf : NULL);
}

/* The row's expression must call the function the row names. */
static int calls_named(const char *fn, const char *expr) {
    size_t k = strlen(fn);
    return strncmp(expr, fn, k) == 0 && expr[k] == '(';
}

static void status_row(const char *fn, hf_status want, const char *msg, const char *expr,
                       hf_status got, int line) {
    char detail[BUF + 256];
    const char *m = got == HF_OK ? "" : last_error();
    const char *problem = NULL;
    size_t k = strlen(fn);
    if (!calls_named(fn, expr)) {
        problem = "row does not call the function it names";
    } else if (got != want) {
        problem = "wrong status";
    } else if (want != HF_OK &&
               (strncmp(m, fn, k) != 0 || m[k] != ':' || (msg && !strstr(m, msg)))) {
        problem = "message does not name the function and the problem";
    }
    if (!problem) problem = outputs_untouched();
    if (!problem) problem = fixture_problem();
    snprintf(detail, sizeof detail, "got %s, want %s; want message \"%s: ...%s...\"; got \"%s\"",
             hf_status_str((int)got), hf_status_str((int)want), fn, msg ? msg : "", m);
    record(line, expr, problem, problem ? detail : NULL);
    reset_outputs();
}

static void text_row(const char *fn, const char *expr, const char *got, const char *want,
                     int line) {
    const char *problem = NULL;
    if (!calls_named(fn, expr)) problem = "row does not call the function it names";
    else if (!got) problem = "returned NULL";
    else if (strcmp(got, want) != 0) problem = "unexpected text";
    if (!problem) problem = fixture_problem();
    record(line, expr, problem, got ? got : "(NULL)");
    reset_outputs();
}

/* CASE(fn, want, msg, call): `call` (a call of `fn`) returns `want`; on error
 * the message is "fn: ..." containing `msg`. */
#define CASE(fn, want, msg, call) status_row(#fn, (want), (msg), #call, (call), __LINE__)
/* TEXT(fn, call, expected): a function returning static text. */
#define TEXT(fn, call, expected) text_row(#fn, #call, (call), (expected), __LINE__)

/* --------------------------------------------------------- status and text */

static void rows_version_and_text(void) {
    char before[256], after[256];
    size_t len = 0;

    TEXT(hf_status_str, hf_status_str(-1), "HF_ERR_UNKNOWN_STATUS");
    TEXT(hf_status_str, hf_status_str(21), "HF_ERR_UNKNOWN_STATUS");
    TEXT(hf_status_str, hf_status_str(INT32_MAX), "HF_ERR_UNKNOWN_STATUS");
    TEXT(hf_status_str, hf_status_str(INT32_MIN), "HF_ERR_UNKNOWN_STATUS");
    TEXT(hf_termination_str, hf_termination_str(-1), "unknown code");
    TEXT(hf_termination_str, hf_termination_str(8), "unknown code");
    TEXT(hf_termination_str, hf_termination_str(INT32_MIN), "unknown code");
    TEXT(hf_reject_reason_str, hf_reject_reason_str(-1), "unknown code");
    TEXT(hf_reject_reason_str, hf_reject_reason_str(7), "unknown code");
    TEXT(hf_reject_reason_str, hf_reject_reason_str(INT32_MAX), "unknown code");
    /* hf_version takes no argument: the row only checks it is safe and matches. */
    TEXT(hf_version, hf_version(), HF_VERSION_STRING);

    CASE(hf_version_numbers, HF_ERR_NULL_POINTER, "'major'", hf_version_numbers(NULL, &O.i2, &O.i3));
    CASE(hf_version_numbers, HF_ERR_NULL_POINTER, "'minor'", hf_version_numbers(&O.i, NULL, &O.i3));
    CASE(hf_version_numbers, HF_ERR_NULL_POINTER, "'patch'", hf_version_numbers(&O.i, &O.i2, NULL));
    CASE(hf_version_numbers, HF_ERR_NULL_POINTER, "NULL", hf_version_numbers(NULL, NULL, NULL));

    /* The error-message functions never change the stored message, so their
     * own failures are checked against the message stored before them. */
    (void)hf_data_size(NULL, NULL, NULL, NULL);
    (void)hf_last_error_message(before, sizeof before);
    {
        hf_status st = hf_last_error_message(NULL, 10);
        (void)hf_last_error_message(after, sizeof after);
        record(__LINE__, "hf_last_error_message(NULL, 10)",
               st != HF_ERR_NULL_POINTER  ? "wrong status"
               : strcmp(before, after) != 0 ? "stored message changed"
                                            : fixture_problem(),
               hf_status_str((int)st));
    }
    {
        hf_status st = hf_last_error_message(O.text, 4);
        (void)hf_last_error_message(after, sizeof after);
        /* Documented: the longest prefix that fits, NUL-terminated. */
        int prefix_ok = O.text[3] == '\0' && strncmp(O.text, before, 3) == 0;
        record(__LINE__, "hf_last_error_message(buf, 4)",
               st != HF_ERR_BUFFER_TOO_SMALL ? "wrong status"
               : !prefix_ok                  ? "not the NUL-terminated prefix"
               : strcmp(before, after) != 0  ? "stored message changed"
                                             : fixture_problem(),
               hf_status_str((int)st));
        memset(O.text, 'Z', sizeof O.text);
    }
    {
        hf_status st = hf_last_error_message(NULL, 0); /* a size query */
        record(__LINE__, "hf_last_error_message(NULL, 0)",
               st != HF_ERR_BUFFER_TOO_SMALL ? "wrong status for a size query of a non-empty message"
                                             : fixture_problem(),
               hf_status_str((int)st));
    }
    {
        hf_status st = hf_last_error_length(NULL);
        (void)hf_last_error_message(after, sizeof after);
        record(__LINE__, "hf_last_error_length(NULL)",
               st != HF_ERR_NULL_POINTER  ? "wrong status"
               : strcmp(before, after) != 0 ? "stored message changed"
                                            : fixture_problem(),
               hf_status_str((int)st));
    }
    {
        hf_status st = hf_last_error_length(&len);
        record(__LINE__, "hf_last_error_length(&len) after failures",
               st != HF_OK || len != strlen(before) ? "length does not match the message"
                                                    : fixture_problem(),
               hf_status_str((int)st));
    }
    reset_outputs();
}

/* ------------------------------------------------------------------ config */

static void rows_config(void) {
    hf_config *cfg = F.cfg;

    CASE(hf_config_new, HF_ERR_NULL_POINTER, "'out'", hf_config_new(NULL));

    CASE(hf_config_preset, HF_ERR_NULL_POINTER, "'name'", hf_config_preset(NULL, &O.cfg));
    CASE(hf_config_preset, HF_ERR_NULL_POINTER, "'out'", hf_config_preset("mnist", NULL));
    CASE(hf_config_preset, HF_ERR_INVALID_ARGUMENT, "nope", hf_config_preset("nope", &O.cfg));
    CASE(hf_config_preset, HF_ERR_INVALID_ARGUMENT, NULL, hf_config_preset("", &O.cfg));
    CASE(hf_config_preset, HF_ERR_INVALID_ARGUMENT, "UTF-8", hf_config_preset("mn\xffist", &O.cfg));

    CASE(hf_config_clone, HF_ERR_NULL_POINTER, "'cfg'", hf_config_clone(NULL, &O.cfg));
    CASE(hf_config_clone, HF_ERR_NULL_POINTER, "'out'", hf_config_clone(cfg, NULL));
    CASE(hf_config_clone, HF_ERR_INVALID_HANDLE, "already been freed", hf_config_clone(F.freed_cfg, &O.cfg));
    CASE(hf_config_clone, HF_ERR_INVALID_HANDLE, "never created", hf_config_clone(FORGED(hf_config), &O.cfg));
    CASE(hf_config_clone, HF_ERR_INVALID_HANDLE, "never created", hf_config_clone(FORGED_TAGGED(hf_config, 1), &O.cfg));
    CASE(hf_config_clone, HF_ERR_INVALID_HANDLE, "is a hf_data handle, expected hf_config",
         hf_config_clone((const hf_config *)F.data, &O.cfg));

    CASE(hf_config_free, HF_OK, NULL, hf_config_free(NULL));
    CASE(hf_config_free, HF_OK, NULL, hf_config_free(F.freed_cfg)); /* double free */
    CASE(hf_config_free, HF_ERR_INVALID_HANDLE, "never created", hf_config_free(FORGED(hf_config)));
    CASE(hf_config_free, HF_ERR_INVALID_HANDLE, "expected hf_config", hf_config_free((hf_config *)F.net));
    CASE(hf_config_free, HF_ERR_INVALID_HANDLE, "expected hf_config", hf_config_free((hf_config *)F.session));

    /* set_f64: bad handle, key and values. */
    CASE(hf_config_set_f64, HF_ERR_NULL_POINTER, "'cfg'", hf_config_set_f64(NULL, "initial_lambda", 1));
    CASE(hf_config_set_f64, HF_ERR_INVALID_HANDLE, "already been freed", hf_config_set_f64(F.freed_cfg, "initial_lambda", 1));
    CASE(hf_config_set_f64, HF_ERR_INVALID_HANDLE, "expected hf_config", hf_config_set_f64((hf_config *)F.data, "initial_lambda", 1));
    CASE(hf_config_set_f64, HF_ERR_NULL_POINTER, "'key'", hf_config_set_f64(cfg, NULL, 1));
    CASE(hf_config_set_f64, HF_ERR_UNKNOWN_KEY, "initial_lambda", hf_config_set_f64(cfg, "initial_lamda", 1));
    CASE(hf_config_set_f64, HF_ERR_UNKNOWN_KEY, NULL, hf_config_set_f64(cfg, "", 1));
    CASE(hf_config_set_f64, HF_ERR_INVALID_ARGUMENT, "UTF-8", hf_config_set_f64(cfg, "initial\xc3", 1));
    CASE(hf_config_set_f64, HF_ERR_WRONG_TYPE, "cg_max_iters", hf_config_set_f64(cfg, "cg_max_iters", 10));
    CASE(hf_config_set_f64, HF_ERR_WRONG_TYPE, "curvature", hf_config_set_f64(cfg, "curvature", 0));
    CASE(hf_config_set_f64, HF_ERR_OUT_OF_RANGE, "initial_lambda", hf_config_set_f64(cfg, "initial_lambda", -1));
    CASE(hf_config_set_f64, HF_ERR_OUT_OF_RANGE, "initial_lambda", hf_config_set_f64(cfg, "initial_lambda", NAN));
    CASE(hf_config_set_f64, HF_ERR_OUT_OF_RANGE, "initial_lambda", hf_config_set_f64(cfg, "initial_lambda", INFINITY));
    CASE(hf_config_set_f64, HF_ERR_OUT_OF_RANGE, "lambda_decrease", hf_config_set_f64(cfg, "lambda_decrease", 0));
    CASE(hf_config_set_f64, HF_ERR_OUT_OF_RANGE, "lambda_increase", hf_config_set_f64(cfg, "lambda_increase", 0.5));
    CASE(hf_config_set_f64, HF_ERR_OUT_OF_RANGE, "rho_low", hf_config_set_f64(cfg, "rho_low", NAN));
    CASE(hf_config_set_f64, HF_ERR_OUT_OF_RANGE, "rho_high", hf_config_set_f64(cfg, "rho_high", -INFINITY));
    CASE(hf_config_set_f64, HF_ERR_OUT_OF_RANGE, "precond_exponent", hf_config_set_f64(cfg, "precond_exponent", 1e300));
    CASE(hf_config_set_f64, HF_ERR_OUT_OF_RANGE, "weight_cost", hf_config_set_f64(cfg, "weight_cost", -1e-300));
    CASE(hf_config_set_f64, HF_ERR_OUT_OF_RANGE, "max_seconds", hf_config_set_f64(cfg, "max_seconds", NAN));

    /* set_i64 */
    CASE(hf_config_set_i64, HF_ERR_NULL_POINTER, "'cfg'", hf_config_set_i64(NULL, "max_iters", 1));
    CASE(hf_config_set_i64, HF_ERR_INVALID_HANDLE, "never created", hf_config_set_i64(FORGED_TAGGED(hf_config, 1), "max_iters", 1));
    CASE(hf_config_set_i64, HF_ERR_NULL_POINTER, "'key'", hf_config_set_i64(cfg, NULL, 1));
    CASE(hf_config_set_i64, HF_ERR_UNKNOWN_KEY, "max_iters", hf_config_set_i64(cfg, "max_iter", 1));
    CASE(hf_config_set_i64, HF_ERR_WRONG_TYPE, "initial_lambda", hf_config_set_i64(cfg, "initial_lambda", 1));
    CASE(hf_config_set_i64, HF_ERR_WRONG_TYPE, "backtrack", hf_config_set_i64(cfg, "backtrack", 1));
    CASE(hf_config_set_i64, HF_ERR_OUT_OF_RANGE, "cg_max_iters", hf_config_set_i64(cfg, "cg_max_iters", 0));
    CASE(hf_config_set_i64, HF_ERR_OUT_OF_RANGE, "cg_max_iters", hf_config_set_i64(cfg, "cg_max_iters", INT64_MAX));
    CASE(hf_config_set_i64, HF_ERR_OUT_OF_RANGE, "max_iters", hf_config_set_i64(cfg, "max_iters", -1));
    CASE(hf_config_set_i64, HF_ERR_OUT_OF_RANGE, "chunk_size", hf_config_set_i64(cfg, "chunk_size", INT64_MIN));
    CASE(hf_config_set_i64, HF_ERR_OUT_OF_RANGE, "threads", hf_config_set_i64(cfg, "threads", 1 << 20));
    CASE(hf_config_set_i64, HF_ERR_OUT_OF_RANGE, "max_rejected_in_row", hf_config_set_i64(cfg, "max_rejected_in_row", 0));

    /* set_bool */
    CASE(hf_config_set_bool, HF_ERR_NULL_POINTER, "'cfg'", hf_config_set_bool(NULL, "backtrack", 1));
    CASE(hf_config_set_bool, HF_ERR_INVALID_HANDLE, "expected hf_config", hf_config_set_bool((hf_config *)F.session, "backtrack", 1));
    CASE(hf_config_set_bool, HF_ERR_NULL_POINTER, "'key'", hf_config_set_bool(cfg, NULL, 1));
    CASE(hf_config_set_bool, HF_ERR_UNKNOWN_KEY, "backtrack", hf_config_set_bool(cfg, "backtrak", 0));
    CASE(hf_config_set_bool, HF_ERR_WRONG_TYPE, "max_iters", hf_config_set_bool(cfg, "max_iters", 1));
    CASE(hf_config_set_bool, HF_ERR_WRONG_TYPE, "backend", hf_config_set_bool(cfg, "backend", 0));

    /* set_str */
    CASE(hf_config_set_str, HF_ERR_NULL_POINTER, "'cfg'", hf_config_set_str(NULL, "curvature", "hessian"));
    CASE(hf_config_set_str, HF_ERR_INVALID_HANDLE, "already been freed", hf_config_set_str(F.freed_cfg, "curvature", "hessian"));
    CASE(hf_config_set_str, HF_ERR_NULL_POINTER, "'key'", hf_config_set_str(cfg, NULL, "hessian"));
    CASE(hf_config_set_str, HF_ERR_NULL_POINTER, "'value'", hf_config_set_str(cfg, "curvature", NULL));
    CASE(hf_config_set_str, HF_ERR_UNKNOWN_KEY, "curvature", hf_config_set_str(cfg, "curvatur", "hessian"));
    CASE(hf_config_set_str, HF_ERR_OUT_OF_RANGE, "gauss_newton", hf_config_set_str(cfg, "curvature", "newton"));
    CASE(hf_config_set_str, HF_ERR_OUT_OF_RANGE, "cpu", hf_config_set_str(cfg, "backend", "tpu"));
    CASE(hf_config_set_str, HF_ERR_OUT_OF_RANGE, "cyclic", hf_config_set_str(cfg, "chunk_order", ""));
    CASE(hf_config_set_str, HF_ERR_INVALID_ARGUMENT, "UTF-8", hf_config_set_str(cfg, "curvature", "hess\xffian"));
    CASE(hf_config_set_str, HF_ERR_WRONG_TYPE, "max_iters", hf_config_set_str(cfg, "max_iters", "10"));

    /* set_from_string */
    CASE(hf_config_set_from_string, HF_ERR_NULL_POINTER, "'cfg'", hf_config_set_from_string(NULL, "max_iters=3"));
    CASE(hf_config_set_from_string, HF_ERR_INVALID_HANDLE, "never created", hf_config_set_from_string(FORGED(hf_config), "max_iters=3"));
    CASE(hf_config_set_from_string, HF_ERR_NULL_POINTER, "'assignment'", hf_config_set_from_string(cfg, NULL));
    CASE(hf_config_set_from_string, HF_ERR_INVALID_ARGUMENT, "=", hf_config_set_from_string(cfg, "max_iters 3"));
    CASE(hf_config_set_from_string, HF_ERR_INVALID_ARGUMENT, "=", hf_config_set_from_string(cfg, ""));
    CASE(hf_config_set_from_string, HF_ERR_UNKNOWN_KEY, NULL, hf_config_set_from_string(cfg, "=3"));
    CASE(hf_config_set_from_string, HF_ERR_UNKNOWN_KEY, "max_iters", hf_config_set_from_string(cfg, "max_itrs=3"));
    CASE(hf_config_set_from_string, HF_ERR_WRONG_TYPE, "max_iters", hf_config_set_from_string(cfg, "max_iters=abc"));
    CASE(hf_config_set_from_string, HF_ERR_WRONG_TYPE, "max_iters", hf_config_set_from_string(cfg, "max_iters=99999999999999999999999"));
    CASE(hf_config_set_from_string, HF_ERR_WRONG_TYPE, "max_iters", hf_config_set_from_string(cfg, "max_iters=1.5"));
    CASE(hf_config_set_from_string, HF_ERR_WRONG_TYPE, "max_iters", hf_config_set_from_string(cfg, "max_iters="));
    CASE(hf_config_set_from_string, HF_ERR_WRONG_TYPE, "backtrack", hf_config_set_from_string(cfg, "backtrack=maybe"));
    CASE(hf_config_set_from_string, HF_ERR_WRONG_TYPE, "initial_lambda", hf_config_set_from_string(cfg, "initial_lambda=1e"));
    CASE(hf_config_set_from_string, HF_ERR_OUT_OF_RANGE, "initial_lambda", hf_config_set_from_string(cfg, "initial_lambda=nan"));
    CASE(hf_config_set_from_string, HF_ERR_OUT_OF_RANGE, "initial_lambda", hf_config_set_from_string(cfg, "initial_lambda=-inf"));
    CASE(hf_config_set_from_string, HF_ERR_OUT_OF_RANGE, "cg_max_iters", hf_config_set_from_string(cfg, "cg_max_iters=-5"));
    CASE(hf_config_set_from_string, HF_ERR_OUT_OF_RANGE, "curvature", hf_config_set_from_string(cfg, "curvature=newton"));

    /* getters */
    CASE(hf_config_get_f64, HF_ERR_NULL_POINTER, "'cfg'", hf_config_get_f64(NULL, "initial_lambda", &O.f64));
    CASE(hf_config_get_f64, HF_ERR_INVALID_HANDLE, "expected hf_config", hf_config_get_f64((hf_config *)F.net, "initial_lambda", &O.f64));
    CASE(hf_config_get_f64, HF_ERR_NULL_POINTER, "'key'", hf_config_get_f64(cfg, NULL, &O.f64));
    CASE(hf_config_get_f64, HF_ERR_NULL_POINTER, "'value'", hf_config_get_f64(cfg, "initial_lambda", NULL));
    CASE(hf_config_get_f64, HF_ERR_UNKNOWN_KEY, "nope", hf_config_get_f64(cfg, "nope", &O.f64));
    CASE(hf_config_get_f64, HF_ERR_WRONG_TYPE, "max_iters", hf_config_get_f64(cfg, "max_iters", &O.f64));
    CASE(hf_config_get_i64, HF_ERR_NULL_POINTER, "'cfg'", hf_config_get_i64(NULL, "max_iters", &O.i64));
    CASE(hf_config_get_i64, HF_ERR_INVALID_HANDLE, "already been freed", hf_config_get_i64(F.freed_cfg, "max_iters", &O.i64));
    CASE(hf_config_get_i64, HF_ERR_NULL_POINTER, "'key'", hf_config_get_i64(cfg, NULL, &O.i64));
    CASE(hf_config_get_i64, HF_ERR_NULL_POINTER, "'value'", hf_config_get_i64(cfg, "max_iters", NULL));
    CASE(hf_config_get_i64, HF_ERR_UNKNOWN_KEY, "nope", hf_config_get_i64(cfg, "nope", &O.i64));
    CASE(hf_config_get_i64, HF_ERR_WRONG_TYPE, "initial_lambda", hf_config_get_i64(cfg, "initial_lambda", &O.i64));
    CASE(hf_config_get_bool, HF_ERR_NULL_POINTER, "'cfg'", hf_config_get_bool(NULL, "backtrack", &O.i));
    CASE(hf_config_get_bool, HF_ERR_INVALID_HANDLE, "never created", hf_config_get_bool(FORGED(hf_config), "backtrack", &O.i));
    CASE(hf_config_get_bool, HF_ERR_NULL_POINTER, "'key'", hf_config_get_bool(cfg, NULL, &O.i));
    CASE(hf_config_get_bool, HF_ERR_NULL_POINTER, "'value'", hf_config_get_bool(cfg, "backtrack", NULL));
    CASE(hf_config_get_bool, HF_ERR_UNKNOWN_KEY, "nope", hf_config_get_bool(cfg, "nope", &O.i));
    CASE(hf_config_get_bool, HF_ERR_WRONG_TYPE, "curvature", hf_config_get_bool(cfg, "curvature", &O.i));
    CASE(hf_config_get_str, HF_ERR_NULL_POINTER, "'cfg'", hf_config_get_str(NULL, "curvature", O.text, 32));
    CASE(hf_config_get_str, HF_ERR_INVALID_HANDLE, "expected hf_config", hf_config_get_str((hf_config *)F.data, "curvature", O.text, 32));
    CASE(hf_config_get_str, HF_ERR_NULL_POINTER, "'key'", hf_config_get_str(cfg, NULL, O.text, 32));
    CASE(hf_config_get_str, HF_ERR_NULL_POINTER, "'buf'", hf_config_get_str(cfg, "curvature", NULL, 32));
    CASE(hf_config_get_str, HF_ERR_BUFFER_TOO_SMALL, "13", hf_config_get_str(cfg, "curvature", O.text, 3));
    CASE(hf_config_get_str, HF_ERR_BUFFER_TOO_SMALL, NULL, hf_config_get_str(cfg, "curvature", O.text, 0));
    CASE(hf_config_get_str, HF_ERR_UNKNOWN_KEY, "nope", hf_config_get_str(cfg, "nope", O.text, 32));
    CASE(hf_config_get_str, HF_ERR_WRONG_TYPE, "max_iters", hf_config_get_str(cfg, "max_iters", O.text, 32));

    /* validate: the cross-key rules */
    CASE(hf_config_validate, HF_ERR_NULL_POINTER, "'cfg'", hf_config_validate(NULL));
    CASE(hf_config_validate, HF_ERR_INVALID_HANDLE, "already been freed", hf_config_validate(F.freed_cfg));
    CASE(hf_config_validate, HF_ERR_INVALID_HANDLE, "expected hf_config", hf_config_validate((hf_config *)F.host));
    CASE(hf_config_validate, HF_ERR_OUT_OF_RANGE, "rho_low", hf_config_validate(F.cfg_bad));

    CASE(hf_config_to_text, HF_ERR_NULL_POINTER, "'cfg'", hf_config_to_text(NULL, O.text, BUF));
    CASE(hf_config_to_text, HF_ERR_INVALID_HANDLE, "never created", hf_config_to_text(FORGED_TAGGED(hf_config, 1), O.text, BUF));
    CASE(hf_config_to_text, HF_ERR_NULL_POINTER, "'buf'", hf_config_to_text(cfg, NULL, BUF));
    CASE(hf_config_to_text, HF_ERR_BUFFER_TOO_SMALL, "bytes", hf_config_to_text(cfg, O.text, 10));
    CASE(hf_config_to_text, HF_ERR_BUFFER_TOO_SMALL, NULL, hf_config_to_text(cfg, O.text, 0));

    CASE(hf_config_key_count, HF_ERR_NULL_POINTER, "'count'", hf_config_key_count(NULL));
    {
        size_t count = 0;
        MUST(hf_config_key_count(&count));
        CASE(hf_config_key_info, HF_ERR_OUT_OF_RANGE, "index", hf_config_key_info(count, &O.str, &O.key_type, &O.str2, &O.str3, &O.str4));
        CASE(hf_config_key_info, HF_ERR_OUT_OF_RANGE, "index", hf_config_key_info(SIZE_MAX, &O.str, &O.key_type, &O.str2, &O.str3, &O.str4));
    }
    CASE(hf_config_key_info, HF_ERR_NULL_POINTER, "'name'", hf_config_key_info(0, NULL, &O.key_type, &O.str2, &O.str3, &O.str4));
    CASE(hf_config_key_info, HF_ERR_NULL_POINTER, "'key_type'", hf_config_key_info(0, &O.str, NULL, &O.str2, &O.str3, &O.str4));
    CASE(hf_config_key_info, HF_ERR_NULL_POINTER, "'default_value'", hf_config_key_info(0, &O.str, &O.key_type, NULL, &O.str3, &O.str4));
    CASE(hf_config_key_info, HF_ERR_NULL_POINTER, "'range'", hf_config_key_info(0, &O.str, &O.key_type, &O.str2, NULL, &O.str4));
    CASE(hf_config_key_info, HF_ERR_NULL_POINTER, "'doc'", hf_config_key_info(0, &O.str, &O.key_type, &O.str2, &O.str3, NULL));
}

/* -------------------------------------------------------------------- data */

static void rows_data(void) {
    const float x[6] = {1, 2, 3, 4, 5, 6};
    const double xd[6] = {1, 2, 3, 4, 5, 6};
    float nan_x[6] = {1, 2, 3, 4, 5, 6}, inf_x[6] = {1, 2, 3, 4, 5, 6};
    double nan_xd[6] = {1, 2, 3, 4, 5, 6}, big_xd[6] = {1, 2, 3, 4, 5, 6};
    const size_t huge = SIZE_MAX / 2 + 1;
    const size_t tera = (size_t)1 << 40;
    nan_x[4] = NAN;
    inf_x[1] = -INFINITY;
    nan_xd[5] = NAN;
    big_xd[2] = 1e300;

    /* hf_data_new */
    CASE(hf_data_new, HF_ERR_NULL_POINTER, "'out'", hf_data_new(3, 2, x, 6, 2, x, 6, NULL));
    CASE(hf_data_new, HF_ERR_NULL_POINTER, "'inputs'", hf_data_new(3, 2, NULL, 6, 2, x, 6, &O.data));
    CASE(hf_data_new, HF_ERR_NULL_POINTER, "'targets'", hf_data_new(3, 2, x, 6, 2, NULL, 6, &O.data));
    CASE(hf_data_new, HF_ERR_INVALID_ARGUMENT, "at least one example", hf_data_new(0, 2, x, 0, 2, x, 0, &O.data));
    CASE(hf_data_new, HF_ERR_INVALID_ARGUMENT, "input_dim", hf_data_new(3, 0, x, 0, 2, x, 6, &O.data));
    CASE(hf_data_new, HF_ERR_INVALID_ARGUMENT, "target_dim", hf_data_new(3, 2, x, 6, 0, x, 0, &O.data));
    CASE(hf_data_new, HF_ERR_INVALID_ARGUMENT, "overflows", hf_data_new(huge, 4, x, 6, 2, x, 6, &O.data));
    CASE(hf_data_new, HF_ERR_INVALID_ARGUMENT, "overflows", hf_data_new(3, 2, x, 6, SIZE_MAX, x, 6, &O.data));
    CASE(hf_data_new, HF_ERR_INVALID_ARGUMENT, "overflows", hf_data_new(3, 2, x, SIZE_MAX, 2, x, 6, &O.data));
    CASE(hf_data_new, HF_ERR_SHAPE_MISMATCH, "inputs_len is 5", hf_data_new(3, 2, x, 5, 2, x, 6, &O.data));
    CASE(hf_data_new, HF_ERR_SHAPE_MISMATCH, "targets_len is 4", hf_data_new(3, 2, x, 6, 2, x, 4, &O.data));
    CASE(hf_data_new, HF_ERR_SHAPE_MISMATCH, "inputs_len is 6", hf_data_new(2, 2, x, 6, 3, x, 6, &O.data));
    CASE(hf_data_new, HF_ERR_NON_FINITE, "NaN at example 2, component 0", hf_data_new(3, 2, nan_x, 6, 2, x, 6, &O.data));
    CASE(hf_data_new, HF_ERR_NON_FINITE, "targets: value -inf at example 0, component 1", hf_data_new(3, 2, x, 6, 2, inf_x, 6, &O.data));

    /* hf_data_new_f64 */
    CASE(hf_data_new_f64, HF_ERR_NULL_POINTER, "'out'", hf_data_new_f64(3, 2, xd, 6, 2, xd, 6, NULL));
    CASE(hf_data_new_f64, HF_ERR_NULL_POINTER, "'inputs'", hf_data_new_f64(3, 2, NULL, 6, 2, xd, 6, &O.data));
    CASE(hf_data_new_f64, HF_ERR_NULL_POINTER, "'targets'", hf_data_new_f64(3, 2, xd, 6, 2, NULL, 6, &O.data));
    CASE(hf_data_new_f64, HF_ERR_INVALID_ARGUMENT, "at least one example", hf_data_new_f64(0, 2, xd, 0, 2, xd, 0, &O.data));
    CASE(hf_data_new_f64, HF_ERR_INVALID_ARGUMENT, "overflows", hf_data_new_f64(huge, 2, xd, 6, 2, xd, 6, &O.data));
    CASE(hf_data_new_f64, HF_ERR_SHAPE_MISMATCH, "targets_len is 5", hf_data_new_f64(3, 2, xd, 6, 2, xd, 5, &O.data));
    CASE(hf_data_new_f64, HF_ERR_NON_FINITE, "NaN at example 2, component 1", hf_data_new_f64(3, 2, nan_xd, 6, 2, xd, 6, &O.data));
    CASE(hf_data_new_f64, HF_ERR_OUT_OF_RANGE, "range of float", hf_data_new_f64(3, 2, xd, 6, 2, big_xd, 6, &O.data));

    /* hf_data_new_autoencoder */
    CASE(hf_data_new_autoencoder, HF_ERR_NULL_POINTER, "'out'", hf_data_new_autoencoder(3, 2, x, 6, NULL));
    CASE(hf_data_new_autoencoder, HF_ERR_NULL_POINTER, "'inputs'", hf_data_new_autoencoder(3, 2, NULL, 6, &O.data));
    CASE(hf_data_new_autoencoder, HF_ERR_SHAPE_MISMATCH, "inputs_len is 0", hf_data_new_autoencoder(3, 2, NULL, 0, &O.data));
    CASE(hf_data_new_autoencoder, HF_ERR_INVALID_ARGUMENT, "at least one example", hf_data_new_autoencoder(0, 2, x, 0, &O.data));
    CASE(hf_data_new_autoencoder, HF_ERR_INVALID_ARGUMENT, NULL, hf_data_new_autoencoder(3, 0, x, 0, &O.data));
    CASE(hf_data_new_autoencoder, HF_ERR_INVALID_ARGUMENT, "overflows", hf_data_new_autoencoder(SIZE_MAX, SIZE_MAX, x, 6, &O.data));
    CASE(hf_data_new_autoencoder, HF_ERR_INVALID_ARGUMENT, "overflows", hf_data_new_autoencoder(tera, tera, x, 6, &O.data));
    CASE(hf_data_new_autoencoder, HF_ERR_SHAPE_MISMATCH, "inputs_len is 6", hf_data_new_autoencoder(tera, 1, x, 6, &O.data));
    CASE(hf_data_new_autoencoder, HF_ERR_SHAPE_MISMATCH, "inputs_len is 6", hf_data_new_autoencoder(4, 2, x, 6, &O.data));
    CASE(hf_data_new_autoencoder, HF_ERR_NON_FINITE, "NaN", hf_data_new_autoencoder(3, 2, nan_x, 6, &O.data));
    CASE(hf_data_new_autoencoder, HF_ERR_NON_FINITE, "-inf at example 0, component 1", hf_data_new_autoencoder(3, 2, inf_x, 6, &O.data));

    /* hf_data_new_autoencoder_f64 */
    CASE(hf_data_new_autoencoder_f64, HF_ERR_NULL_POINTER, "'out'", hf_data_new_autoencoder_f64(3, 2, xd, 6, NULL));
    CASE(hf_data_new_autoencoder_f64, HF_ERR_NULL_POINTER, "'inputs'", hf_data_new_autoencoder_f64(3, 2, NULL, 6, &O.data));
    CASE(hf_data_new_autoencoder_f64, HF_ERR_INVALID_ARGUMENT, "at least one example", hf_data_new_autoencoder_f64(0, 2, xd, 0, &O.data));
    CASE(hf_data_new_autoencoder_f64, HF_ERR_INVALID_ARGUMENT, "overflows", hf_data_new_autoencoder_f64(huge, 4, xd, 6, &O.data));
    CASE(hf_data_new_autoencoder_f64, HF_ERR_SHAPE_MISMATCH, "inputs_len is 6", hf_data_new_autoencoder_f64(2, 2, xd, 6, &O.data));
    CASE(hf_data_new_autoencoder_f64, HF_ERR_NON_FINITE, "NaN", hf_data_new_autoencoder_f64(3, 2, nan_xd, 6, &O.data));
    CASE(hf_data_new_autoencoder_f64, HF_ERR_OUT_OF_RANGE, "range of float", hf_data_new_autoencoder_f64(3, 2, big_xd, 6, &O.data));

    /* hf_data_free */
    CASE(hf_data_free, HF_OK, NULL, hf_data_free(NULL));
    CASE(hf_data_free, HF_OK, NULL, hf_data_free(F.freed_data)); /* double free */
    CASE(hf_data_free, HF_ERR_INVALID_HANDLE, "never created", hf_data_free(FORGED(hf_data)));
    CASE(hf_data_free, HF_ERR_INVALID_HANDLE, "never created", hf_data_free(FORGED_TAGGED(hf_data, 2)));
    CASE(hf_data_free, HF_ERR_INVALID_HANDLE, "expected hf_data", hf_data_free((hf_data *)F.cfg));
    CASE(hf_data_free, HF_ERR_INVALID_HANDLE, "expected hf_data", hf_data_free((hf_data *)F.session));

    /* hf_data_size */
    CASE(hf_data_size, HF_ERR_NULL_POINTER, "'data'", hf_data_size(NULL, &O.size, &O.size2, &O.size3));
    CASE(hf_data_size, HF_ERR_NULL_POINTER, "'n'", hf_data_size(F.data, NULL, &O.size2, &O.size3));
    CASE(hf_data_size, HF_ERR_NULL_POINTER, "'input_dim'", hf_data_size(F.data, &O.size, NULL, &O.size3));
    CASE(hf_data_size, HF_ERR_NULL_POINTER, "'target_dim'", hf_data_size(F.data, &O.size, &O.size2, NULL));
    CASE(hf_data_size, HF_ERR_INVALID_HANDLE, "already been freed", hf_data_size(F.freed_data, &O.size, &O.size2, &O.size3));
    CASE(hf_data_size, HF_ERR_INVALID_HANDLE, "never created", hf_data_size(FORGED(hf_data), &O.size, &O.size2, &O.size3));
    CASE(hf_data_size, HF_ERR_INVALID_HANDLE, "is a hf_net handle, expected hf_data", hf_data_size((hf_data *)F.net, &O.size, &O.size2, &O.size3));
    CASE(hf_data_size, HF_ERR_INVALID_HANDLE, "is a freed hf_net handle, expected hf_data", hf_data_size((hf_data *)F.freed_net, &O.size, &O.size2, &O.size3));

    /* copy_inputs / copy_targets: nothing written when too small */
    CASE(hf_data_copy_inputs, HF_ERR_NULL_POINTER, "'data'", hf_data_copy_inputs(NULL, O.floats, 256));
    CASE(hf_data_copy_inputs, HF_ERR_INVALID_HANDLE, "expected hf_data", hf_data_copy_inputs((hf_data *)F.cfg, O.floats, 256));
    CASE(hf_data_copy_inputs, HF_ERR_NULL_POINTER, "'out'", hf_data_copy_inputs(F.data, NULL, N * D));
    CASE(hf_data_copy_inputs, HF_ERR_BUFFER_TOO_SMALL, "120", hf_data_copy_inputs(F.data, O.floats, N * D - 1));
    CASE(hf_data_copy_inputs, HF_ERR_BUFFER_TOO_SMALL, "120", hf_data_copy_inputs(F.data, NULL, 0));
    CASE(hf_data_copy_inputs, HF_ERR_INVALID_ARGUMENT, "overflows", hf_data_copy_inputs(F.data, O.floats, SIZE_MAX));
    CASE(hf_data_copy_targets, HF_ERR_NULL_POINTER, "'data'", hf_data_copy_targets(NULL, O.floats, 256));
    CASE(hf_data_copy_targets, HF_ERR_INVALID_HANDLE, "already been freed", hf_data_copy_targets(F.freed_data, O.floats, 256));
    CASE(hf_data_copy_targets, HF_ERR_NULL_POINTER, "'out'", hf_data_copy_targets(F.data, NULL, N * D));
    CASE(hf_data_copy_targets, HF_ERR_BUFFER_TOO_SMALL, "120", hf_data_copy_targets(F.data, O.floats, 1));

    /* Files and folders that do not exist, are directories or are garbage. */
    CASE(hf_data_load_mnist, HF_ERR_NULL_POINTER, "'dir'", hf_data_load_mnist(NULL, &O.data, &O.data2));
    CASE(hf_data_load_mnist, HF_ERR_NULL_POINTER, "'train'", hf_data_load_mnist(F.dir, NULL, &O.data2));
    CASE(hf_data_load_mnist, HF_ERR_NULL_POINTER, "'test'", hf_data_load_mnist(F.dir, &O.data, NULL));
    CASE(hf_data_load_mnist, HF_ERR_IO, "train-images-idx3-ubyte", hf_data_load_mnist(F.missing, &O.data, &O.data2));
    CASE(hf_data_load_mnist, HF_ERR_IO, "train-images-idx3-ubyte", hf_data_load_mnist(F.dir, &O.data, &O.data2));
    CASE(hf_data_load_mnist, HF_ERR_IO, "/proc/nope", hf_data_load_mnist("/proc/nope", &O.data, &O.data2));
    CASE(hf_data_load_mnist, HF_ERR_IO, "garbage", hf_data_load_mnist(F.garbage, &O.data, &O.data2));
    CASE(hf_data_load_mnist, HF_ERR_INVALID_ARGUMENT, NULL, hf_data_load_mnist("", &O.data, &O.data2));

    CASE(hf_data_curves, HF_ERR_NULL_POINTER, "'out'", hf_data_curves(10, 1, NULL));
    CASE(hf_data_curves, HF_ERR_INVALID_ARGUMENT, NULL, hf_data_curves(0, 1, &O.data));
    CASE(hf_data_curves, HF_ERR_RESOURCE_LIMIT, NULL, hf_data_curves(tera, 1, &O.data));
    CASE(hf_data_curves, HF_ERR_INVALID_ARGUMENT, "overflow", hf_data_curves(SIZE_MAX, 1, &O.data));

    CASE(hf_data_faces, HF_ERR_NULL_POINTER, "'olivetti_npy'", hf_data_faces(NULL, 1, 1, &O.data, &O.data2));
    CASE(hf_data_faces, HF_ERR_NULL_POINTER, "'train'", hf_data_faces(F.garbage, 1, 1, NULL, &O.data2));
    CASE(hf_data_faces, HF_ERR_NULL_POINTER, "'test'", hf_data_faces(F.garbage, 1, 1, &O.data, NULL));
    CASE(hf_data_faces, HF_ERR_INVALID_ARGUMENT, "per_image", hf_data_faces(F.garbage, 0, 1, &O.data, &O.data2));
    CASE(hf_data_faces, HF_ERR_IO, F.missing, hf_data_faces(F.missing, 1, 1, &O.data, &O.data2));
    CASE(hf_data_faces, HF_ERR_IO, F.dir, hf_data_faces(F.dir, 1, 1, &O.data, &O.data2));
    CASE(hf_data_faces, HF_ERR_FORMAT, "garbage", hf_data_faces(F.garbage, 1, 1, &O.data, &O.data2));
    CASE(hf_data_faces, HF_ERR_FORMAT, "empty", hf_data_faces(F.empty, 1, 1, &O.data, &O.data2));

    CASE(hf_data_preset, HF_ERR_NULL_POINTER, "'preset'", hf_data_preset(NULL, F.dir, 1, &O.data, &O.data2));
    CASE(hf_data_preset, HF_ERR_NULL_POINTER, "'data_dir'", hf_data_preset("mnist", NULL, 1, &O.data, &O.data2));
    CASE(hf_data_preset, HF_ERR_NULL_POINTER, "'train'", hf_data_preset("mnist", F.dir, 1, NULL, &O.data2));
    CASE(hf_data_preset, HF_ERR_NULL_POINTER, "'test'", hf_data_preset("mnist", F.dir, 1, &O.data, NULL));
    CASE(hf_data_preset, HF_ERR_INVALID_ARGUMENT, "nope", hf_data_preset("nope", F.dir, 1, &O.data, &O.data2));
    CASE(hf_data_preset, HF_ERR_IO, "mnist", hf_data_preset("mnist", F.missing, 1, &O.data, &O.data2));
    CASE(hf_data_preset, HF_ERR_IO, "olivetti", hf_data_preset("faces", F.missing, 1, &O.data, &O.data2));
    CASE(hf_data_preset, HF_ERR_IO, "mnist", hf_data_preset("mnist", "/proc/nope/x", 1, &O.data, &O.data2));
}

/* --------------------------------------------------------------------- net */

static void rows_net(void) {
    const size_t sizes[3] = {D, CODE, D};
    const int32_t acts[2] = {HF_ACT_LOGISTIC, HF_ACT_LOGISTIC};
    const size_t zero_width[3] = {D, 0, D};
    const size_t tera_width[3] = {D, (size_t)1 << 40, D};
    const size_t max_width[3] = {D, SIZE_MAX, D};
    const size_t tera_input[2] = {(size_t)1 << 40, 2};
    const int32_t unknown_act[2] = {HF_ACT_LOGISTIC, 99};
    const int32_t negative_act[2] = {-1, HF_ACT_LOGISTIC};
    const int32_t softmax_hidden[2] = {HF_ACT_SOFTMAX, HF_ACT_LOGISTIC};
    const int32_t tanh_output[2] = {HF_ACT_LOGISTIC, HF_ACT_TANH};
    const int32_t relu_output[2] = {HF_ACT_LOGISTIC, HF_ACT_RELU};
    const size_t enc[2] = {D, CODE}, enc_zero[2] = {D, 0}, enc_tera[2] = {D, (size_t)1 << 40};
    const float xin[2 * D] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
    float xnan[2 * D], v[64], vnan[64], vinf[64];
    hf_net *net = F.net;
    const size_t p = F.p;
    size_t k;
    memcpy(xnan, xin, sizeof xin);
    xnan[7] = NAN;
    for (k = 0; k < 64; k++) v[k] = vnan[k] = vinf[k] = (float)k / 64;
    vnan[3] = NAN;
    vinf[p - 1] = INFINITY;

    CASE(hf_net_new, HF_ERR_NULL_POINTER, "'out'", hf_net_new(sizes, 3, acts, 2, 1, NULL));
    CASE(hf_net_new, HF_ERR_NULL_POINTER, "'sizes'", hf_net_new(NULL, 3, acts, 2, 1, &O.net));
    CASE(hf_net_new, HF_ERR_NULL_POINTER, "'activations'", hf_net_new(sizes, 3, NULL, 2, 1, &O.net));
    CASE(hf_net_new, HF_ERR_INVALID_ARGUMENT, "two", hf_net_new(NULL, 0, NULL, 0, 1, &O.net));
    CASE(hf_net_new, HF_ERR_INVALID_ARGUMENT, "two", hf_net_new(sizes, 1, acts, 0, 1, &O.net));
    CASE(hf_net_new, HF_ERR_SHAPE_MISMATCH, "activations", hf_net_new(sizes, 3, acts, 1, 1, &O.net));
    CASE(hf_net_new, HF_ERR_SHAPE_MISMATCH, "activations", hf_net_new(sizes, 2, acts, 2, 1, &O.net));
    CASE(hf_net_new, HF_ERR_INVALID_ARGUMENT, "layer 1", hf_net_new(zero_width, 3, acts, 2, 1, &O.net));
    CASE(hf_net_new, HF_ERR_RESOURCE_LIMIT, "parameters", hf_net_new(tera_width, 3, acts, 2, 1, &O.net));
    CASE(hf_net_new, HF_ERR_RESOURCE_LIMIT, "parameters", hf_net_new(max_width, 3, acts, 2, 1, &O.net));
    CASE(hf_net_new, HF_ERR_RESOURCE_LIMIT, "parameters", hf_net_new(tera_input, 2, acts, 1, 1, &O.net));
    CASE(hf_net_new, HF_ERR_INVALID_ARGUMENT, "99", hf_net_new(sizes, 3, unknown_act, 2, 1, &O.net));
    CASE(hf_net_new, HF_ERR_INVALID_ARGUMENT, "-1", hf_net_new(sizes, 3, negative_act, 2, 1, &O.net));
    CASE(hf_net_new, HF_ERR_INVALID_ARGUMENT, "softmax", hf_net_new(sizes, 3, softmax_hidden, 2, 1, &O.net));
    CASE(hf_net_new, HF_ERR_INVALID_ARGUMENT, "tanh", hf_net_new(sizes, 3, tanh_output, 2, 1, &O.net));
    CASE(hf_net_new, HF_ERR_INVALID_ARGUMENT, "relu", hf_net_new(sizes, 3, relu_output, 2, 1, &O.net));

    CASE(hf_net_new_autoencoder, HF_ERR_NULL_POINTER, "'out'", hf_net_new_autoencoder(enc, 2, HF_ACT_LOGISTIC, 1, NULL));
    CASE(hf_net_new_autoencoder, HF_ERR_NULL_POINTER, "'encoder'", hf_net_new_autoencoder(NULL, 2, HF_ACT_LOGISTIC, 1, &O.net));
    CASE(hf_net_new_autoencoder, HF_ERR_INVALID_ARGUMENT, NULL, hf_net_new_autoencoder(NULL, 0, HF_ACT_LOGISTIC, 1, &O.net));
    CASE(hf_net_new_autoencoder, HF_ERR_INVALID_ARGUMENT, NULL, hf_net_new_autoencoder(enc, 1, HF_ACT_LOGISTIC, 1, &O.net));
    CASE(hf_net_new_autoencoder, HF_ERR_INVALID_ARGUMENT, "layer 1", hf_net_new_autoencoder(enc_zero, 2, HF_ACT_LOGISTIC, 1, &O.net));
    CASE(hf_net_new_autoencoder, HF_ERR_RESOURCE_LIMIT, "parameters", hf_net_new_autoencoder(enc_tera, 2, HF_ACT_LOGISTIC, 1, &O.net));
    CASE(hf_net_new_autoencoder, HF_ERR_INVALID_ARGUMENT, "output_activation = 1 (tanh)", hf_net_new_autoencoder(enc, 2, HF_ACT_TANH, 1, &O.net));
    CASE(hf_net_new_autoencoder, HF_ERR_INVALID_ARGUMENT, "output_activation = 4 (softmax)", hf_net_new_autoencoder(enc, 2, HF_ACT_SOFTMAX, 1, &O.net));
    CASE(hf_net_new_autoencoder, HF_ERR_INVALID_ARGUMENT, "1000", hf_net_new_autoencoder(enc, 2, 1000, 1, &O.net));

    CASE(hf_net_new_preset, HF_ERR_NULL_POINTER, "'preset'", hf_net_new_preset(NULL, 1, &O.net));
    CASE(hf_net_new_preset, HF_ERR_NULL_POINTER, "'out'", hf_net_new_preset("curves", 1, NULL));
    CASE(hf_net_new_preset, HF_ERR_INVALID_ARGUMENT, "nope", hf_net_new_preset("nope", 1, &O.net));
    CASE(hf_net_new_preset, HF_ERR_INVALID_ARGUMENT, NULL, hf_net_new_preset("", 1, &O.net));

    CASE(hf_net_clone, HF_ERR_NULL_POINTER, "'net'", hf_net_clone(NULL, &O.net));
    CASE(hf_net_clone, HF_ERR_NULL_POINTER, "'out'", hf_net_clone(net, NULL));
    CASE(hf_net_clone, HF_ERR_INVALID_HANDLE, "already been freed", hf_net_clone(F.freed_net, &O.net));
    CASE(hf_net_clone, HF_ERR_INVALID_HANDLE, "never created", hf_net_clone(FORGED(hf_net), &O.net));
    CASE(hf_net_clone, HF_ERR_INVALID_HANDLE, "is a hf_session handle, expected hf_net", hf_net_clone((hf_net *)F.session, &O.net));

    CASE(hf_net_free, HF_OK, NULL, hf_net_free(NULL));
    CASE(hf_net_free, HF_OK, NULL, hf_net_free(F.freed_net)); /* double free */
    CASE(hf_net_free, HF_ERR_INVALID_HANDLE, "never created", hf_net_free(FORGED_TAGGED(hf_net, 3)));
    CASE(hf_net_free, HF_ERR_INVALID_HANDLE, "expected hf_net", hf_net_free((hf_net *)F.data));

    CASE(hf_net_num_params, HF_ERR_NULL_POINTER, "'net'", hf_net_num_params(NULL, &O.size));
    CASE(hf_net_num_params, HF_ERR_NULL_POINTER, "'count'", hf_net_num_params(net, NULL));
    CASE(hf_net_num_params, HF_ERR_INVALID_HANDLE, "expected hf_net", hf_net_num_params((hf_net *)F.cfg, &O.size));
    CASE(hf_net_num_layers, HF_ERR_NULL_POINTER, "'net'", hf_net_num_layers(NULL, &O.size));
    CASE(hf_net_num_layers, HF_ERR_NULL_POINTER, "'count'", hf_net_num_layers(net, NULL));
    CASE(hf_net_num_layers, HF_ERR_INVALID_HANDLE, "already been freed", hf_net_num_layers(F.freed_net, &O.size));

    CASE(hf_net_layer_sizes, HF_ERR_NULL_POINTER, "'net'", hf_net_layer_sizes(NULL, O.sizes, 8));
    CASE(hf_net_layer_sizes, HF_ERR_NULL_POINTER, "'out'", hf_net_layer_sizes(net, NULL, 8));
    CASE(hf_net_layer_sizes, HF_ERR_BUFFER_TOO_SMALL, "3", hf_net_layer_sizes(net, O.sizes, 2));
    CASE(hf_net_layer_sizes, HF_ERR_BUFFER_TOO_SMALL, "3", hf_net_layer_sizes(net, NULL, 0));
    CASE(hf_net_layer_sizes, HF_ERR_INVALID_HANDLE, "never created", hf_net_layer_sizes(FORGED(hf_net), O.sizes, 8));
    CASE(hf_net_layer_activations, HF_ERR_NULL_POINTER, "'net'", hf_net_layer_activations(NULL, O.acts, 8));
    CASE(hf_net_layer_activations, HF_ERR_NULL_POINTER, "'out'", hf_net_layer_activations(net, NULL, 8));
    CASE(hf_net_layer_activations, HF_ERR_BUFFER_TOO_SMALL, "2", hf_net_layer_activations(net, O.acts, 1));
    CASE(hf_net_layer_activations, HF_ERR_INVALID_HANDLE, "expected hf_net", hf_net_layer_activations((hf_net *)F.host, O.acts, 8));

    CASE(hf_net_describe, HF_ERR_NULL_POINTER, "'net'", hf_net_describe(NULL, O.text, BUF));
    CASE(hf_net_describe, HF_ERR_NULL_POINTER, "'buf'", hf_net_describe(net, NULL, BUF));
    CASE(hf_net_describe, HF_ERR_BUFFER_TOO_SMALL, "bytes", hf_net_describe(net, O.text, 5));
    CASE(hf_net_describe, HF_ERR_BUFFER_TOO_SMALL, "bytes", hf_net_describe(net, NULL, 0));
    CASE(hf_net_describe, HF_ERR_INVALID_HANDLE, "already been freed", hf_net_describe(F.freed_net, O.text, BUF));

    CASE(hf_net_get_params, HF_ERR_NULL_POINTER, "'net'", hf_net_get_params(NULL, O.floats, 256));
    CASE(hf_net_get_params, HF_ERR_NULL_POINTER, "'out'", hf_net_get_params(net, NULL, p));
    CASE(hf_net_get_params, HF_ERR_BUFFER_TOO_SMALL, "45", hf_net_get_params(net, O.floats, p - 1));
    CASE(hf_net_get_params, HF_ERR_INVALID_HANDLE, "expected hf_net", hf_net_get_params((hf_net *)F.data, O.floats, 256));

    /* set_params: theta is unchanged on every error (the fixture check compares it). */
    CASE(hf_net_set_params, HF_ERR_NULL_POINTER, "'net'", hf_net_set_params(NULL, v, p));
    CASE(hf_net_set_params, HF_ERR_NULL_POINTER, "'params'", hf_net_set_params(net, NULL, p));
    CASE(hf_net_set_params, HF_ERR_SHAPE_MISMATCH, "44", hf_net_set_params(net, v, p - 1));
    CASE(hf_net_set_params, HF_ERR_SHAPE_MISMATCH, "46", hf_net_set_params(net, v, p + 1));
    CASE(hf_net_set_params, HF_ERR_SHAPE_MISMATCH, "0", hf_net_set_params(net, NULL, 0));
    CASE(hf_net_set_params, HF_ERR_NON_FINITE, "3", hf_net_set_params(net, vnan, p));
    CASE(hf_net_set_params, HF_ERR_NON_FINITE, "44", hf_net_set_params(net, vinf, p));
    CASE(hf_net_set_params, HF_ERR_INVALID_HANDLE, "already been freed", hf_net_set_params(F.freed_net, v, p));
    CASE(hf_net_set_params, HF_ERR_INVALID_HANDLE, "expected hf_net", hf_net_set_params((hf_net *)F.session, v, p));

    /* predict */
    CASE(hf_net_predict, HF_ERR_NULL_POINTER, "'net'", hf_net_predict(NULL, xin, 2 * D, 2, O.floats, 256));
    CASE(hf_net_predict, HF_ERR_NULL_POINTER, "'inputs'", hf_net_predict(net, NULL, 2 * D, 2, O.floats, 256));
    CASE(hf_net_predict, HF_ERR_NULL_POINTER, "'outputs'", hf_net_predict(net, xin, 2 * D, 2, NULL, 256));
    CASE(hf_net_predict, HF_ERR_SHAPE_MISMATCH, "inputs_len", hf_net_predict(net, xin, 2 * D - 1, 2, O.floats, 256));
    CASE(hf_net_predict, HF_ERR_SHAPE_MISMATCH, "inputs_len", hf_net_predict(net, xin, 2 * D, 3, O.floats, 256));
    CASE(hf_net_predict, HF_ERR_INVALID_ARGUMENT, NULL, hf_net_predict(net, xin, 0, 0, O.floats, 256));
    CASE(hf_net_predict, HF_ERR_INVALID_ARGUMENT, "overflow", hf_net_predict(net, xin, 2 * D, SIZE_MAX, O.floats, 256));
    CASE(hf_net_predict, HF_ERR_BUFFER_TOO_SMALL, "12", hf_net_predict(net, xin, 2 * D, 2, O.floats, 2 * D - 1));
    CASE(hf_net_predict, HF_ERR_NON_FINITE, "example 1, component 1", hf_net_predict(net, xnan, 2 * D, 2, O.floats, 256));
    CASE(hf_net_predict, HF_ERR_INVALID_HANDLE, "never created", hf_net_predict(FORGED(hf_net), xin, 2 * D, 2, O.floats, 256));

    /* evaluate / gradient: data that does not fit the network */
    CASE(hf_net_evaluate, HF_ERR_NULL_POINTER, "'net'", hf_net_evaluate(NULL, F.data, &O.f64, &O.f64b));
    CASE(hf_net_evaluate, HF_ERR_NULL_POINTER, "'data'", hf_net_evaluate(net, NULL, &O.f64, &O.f64b));
    CASE(hf_net_evaluate, HF_ERR_NULL_POINTER, "'loss'", hf_net_evaluate(net, F.data, NULL, &O.f64b));
    CASE(hf_net_evaluate, HF_ERR_NULL_POINTER, "'error'", hf_net_evaluate(net, F.data, &O.f64, NULL));
    CASE(hf_net_evaluate, HF_ERR_SHAPE_MISMATCH, NULL, hf_net_evaluate(net, F.data_other, &O.f64, &O.f64b));
    CASE(hf_net_evaluate, HF_ERR_INVALID_HANDLE, "already been freed", hf_net_evaluate(net, F.freed_data, &O.f64, &O.f64b));
    CASE(hf_net_evaluate, HF_ERR_INVALID_HANDLE, "is a hf_net handle, expected hf_data", hf_net_evaluate(net, (hf_data *)net, &O.f64, &O.f64b));
    CASE(hf_net_evaluate, HF_ERR_INVALID_HANDLE, "expected hf_net", hf_net_evaluate((hf_net *)F.data, F.data, &O.f64, &O.f64b));

    CASE(hf_net_gradient, HF_ERR_NULL_POINTER, "'net'", hf_net_gradient(NULL, F.data, O.floats, 256, &O.f64));
    CASE(hf_net_gradient, HF_ERR_NULL_POINTER, "'data'", hf_net_gradient(net, NULL, O.floats, 256, &O.f64));
    CASE(hf_net_gradient, HF_ERR_NULL_POINTER, "'grad'", hf_net_gradient(net, F.data, NULL, 256, &O.f64));
    CASE(hf_net_gradient, HF_ERR_NULL_POINTER, "'loss'", hf_net_gradient(net, F.data, O.floats, 256, NULL));
    CASE(hf_net_gradient, HF_ERR_BUFFER_TOO_SMALL, "45", hf_net_gradient(net, F.data, O.floats, p - 1, &O.f64));
    CASE(hf_net_gradient, HF_ERR_SHAPE_MISMATCH, NULL, hf_net_gradient(net, F.data_other, O.floats, 256, &O.f64));
    CASE(hf_net_gradient, HF_ERR_INVALID_HANDLE, "never created", hf_net_gradient(net, FORGED(hf_data), O.floats, 256, &O.f64));

    /* curvature products */
    CASE(hf_net_curvature_product, HF_ERR_NULL_POINTER, "'net'", hf_net_curvature_product(NULL, F.data, 0, v, p, O.floats, 256));
    CASE(hf_net_curvature_product, HF_ERR_NULL_POINTER, "'data'", hf_net_curvature_product(net, NULL, 0, v, p, O.floats, 256));
    CASE(hf_net_curvature_product, HF_ERR_NULL_POINTER, "'v'", hf_net_curvature_product(net, F.data, 0, NULL, p, O.floats, 256));
    CASE(hf_net_curvature_product, HF_ERR_NULL_POINTER, "'out'", hf_net_curvature_product(net, F.data, 0, v, p, NULL, 256));
    CASE(hf_net_curvature_product, HF_ERR_INVALID_ARGUMENT, "3", hf_net_curvature_product(net, F.data, 3, v, p, O.floats, 256));
    CASE(hf_net_curvature_product, HF_ERR_INVALID_ARGUMENT, "-1", hf_net_curvature_product(net, F.data, -1, v, p, O.floats, 256));
    CASE(hf_net_curvature_product, HF_ERR_SHAPE_MISMATCH, "v_len", hf_net_curvature_product(net, F.data, 0, v, p - 1, O.floats, 256));
    CASE(hf_net_curvature_product, HF_ERR_BUFFER_TOO_SMALL, "45", hf_net_curvature_product(net, F.data, 0, v, p, O.floats, p - 1));
    CASE(hf_net_curvature_product, HF_ERR_NON_FINITE, "v", hf_net_curvature_product(net, F.data, 1, vnan, p, O.floats, 256));
    CASE(hf_net_curvature_product, HF_ERR_NON_FINITE, "v", hf_net_curvature_product(net, F.data, 2, vinf, p, O.floats, 256));
    CASE(hf_net_curvature_product, HF_ERR_SHAPE_MISMATCH, NULL, hf_net_curvature_product(net, F.data_other, 0, v, p, O.floats, 256));

    CASE(hf_net_hessian_product_fd, HF_ERR_NULL_POINTER, "'net'", hf_net_hessian_product_fd(NULL, F.data, v, p, 1e-3, O.floats, 256));
    CASE(hf_net_hessian_product_fd, HF_ERR_NULL_POINTER, "'data'", hf_net_hessian_product_fd(net, NULL, v, p, 1e-3, O.floats, 256));
    CASE(hf_net_hessian_product_fd, HF_ERR_NULL_POINTER, "'v'", hf_net_hessian_product_fd(net, F.data, NULL, p, 1e-3, O.floats, 256));
    CASE(hf_net_hessian_product_fd, HF_ERR_NULL_POINTER, "'out'", hf_net_hessian_product_fd(net, F.data, v, p, 1e-3, NULL, 256));
    CASE(hf_net_hessian_product_fd, HF_ERR_OUT_OF_RANGE, "h", hf_net_hessian_product_fd(net, F.data, v, p, 0, O.floats, 256));
    CASE(hf_net_hessian_product_fd, HF_ERR_OUT_OF_RANGE, "h", hf_net_hessian_product_fd(net, F.data, v, p, -1e-3, O.floats, 256));
    CASE(hf_net_hessian_product_fd, HF_ERR_OUT_OF_RANGE, "h", hf_net_hessian_product_fd(net, F.data, v, p, NAN, O.floats, 256));
    CASE(hf_net_hessian_product_fd, HF_ERR_OUT_OF_RANGE, "h", hf_net_hessian_product_fd(net, F.data, v, p, INFINITY, O.floats, 256));
    CASE(hf_net_hessian_product_fd, HF_ERR_SHAPE_MISMATCH, "v_len", hf_net_hessian_product_fd(net, F.data, v, p + 1, 1e-3, O.floats, 256));
    CASE(hf_net_hessian_product_fd, HF_ERR_BUFFER_TOO_SMALL, "45", hf_net_hessian_product_fd(net, F.data, v, p, 1e-3, O.floats, 3));
    CASE(hf_net_hessian_product_fd, HF_ERR_NON_FINITE, "v", hf_net_hessian_product_fd(net, F.data, vnan, p, 1e-3, O.floats, 256));
    CASE(hf_net_hessian_product_fd, HF_ERR_SHAPE_MISMATCH, NULL, hf_net_hessian_product_fd(net, F.data_other, v, p, 1e-3, O.floats, 256));

    /* save / load */
    CASE(hf_net_save, HF_ERR_NULL_POINTER, "'net'", hf_net_save(NULL, F.net_file));
    CASE(hf_net_save, HF_ERR_NULL_POINTER, "'path'", hf_net_save(net, NULL));
    CASE(hf_net_save, HF_ERR_INVALID_ARGUMENT, "empty path", hf_net_save(net, ""));
    CASE(hf_net_save, HF_ERR_IO, "'/proc/nope/x'", hf_net_save(net, "/proc/nope/x"));
    CASE(hf_net_save, HF_ERR_IO, F.missing_quoted, hf_net_save(net, F.missing));
    CASE(hf_net_save, HF_ERR_IO, F.dir, hf_net_save(net, F.dir));
    CASE(hf_net_save, HF_ERR_INVALID_HANDLE, "already been freed", hf_net_save(F.freed_net, F.net_file));
    CASE(hf_net_save, HF_ERR_INVALID_HANDLE, "expected hf_net", hf_net_save((hf_net *)F.session, F.net_file));

    CASE(hf_net_load, HF_ERR_NULL_POINTER, "'path'", hf_net_load(NULL, &O.net));
    CASE(hf_net_load, HF_ERR_NULL_POINTER, "'out'", hf_net_load(F.net_file, NULL));
    CASE(hf_net_load, HF_ERR_INVALID_ARGUMENT, "empty path", hf_net_load("", &O.net));
    CASE(hf_net_load, HF_ERR_IO, F.missing, hf_net_load(F.missing, &O.net));
    CASE(hf_net_load, HF_ERR_IO, "/proc/nope/x", hf_net_load("/proc/nope/x", &O.net));
    CASE(hf_net_load, HF_ERR_IO, F.dir, hf_net_load(F.dir, &O.net));
    CASE(hf_net_load, HF_ERR_FORMAT, "garbage", hf_net_load(F.garbage, &O.net));
    CASE(hf_net_load, HF_ERR_FORMAT, "empty", hf_net_load(F.empty, &O.net));
    CASE(hf_net_load, HF_ERR_FORMAT, "session", hf_net_load(F.session_file, &O.net));
}

/* ----------------------------------------------------------------- session */

typedef struct {
    hf_session *self;
    hf_status iteration, params, step, stop;
    int calls;
} reentry;

/* A progress callback that calls back into its own session: every call but
 * request_stop is HF_ERR_UNSUPPORTED (documented), checked after the run. */
static int reenter(void *user, const hf_iteration_report *r) {
    reentry *e = (reentry *)user;
    uint64_t it;
    float theta[HP];
    (void)r;
    e->calls++;
    e->iteration = hf_session_iteration(e->self, &it);
    e->params = hf_session_get_params(e->self, theta, HP);
    e->step = hf_session_step(e->self, NULL);
    e->stop = hf_session_request_stop(e->self);
    return 0;
}

static void rows_session(void) {
    hf_session *s = F.session;
    hf_objective_callbacks cb = quadratic(), bad;
    const float t0[HP] = {1, 1, 1, 1};
    float t0_nan[HP] = {1, 1, 1, 1};
    hf_summary sum;
    hf_iteration_report rep;
    t0_nan[2] = NAN;

    /* hf_session_new */
    CASE(hf_session_new, HF_ERR_NULL_POINTER, "'net'", hf_session_new(NULL, F.data, NULL, F.cfg, &O.session));
    CASE(hf_session_new, HF_ERR_NULL_POINTER, "'train'", hf_session_new(F.net, NULL, NULL, F.cfg, &O.session));
    CASE(hf_session_new, HF_ERR_NULL_POINTER, "'out'", hf_session_new(F.net, F.data, NULL, F.cfg, NULL));
    CASE(hf_session_new, HF_ERR_INVALID_HANDLE, "already been freed", hf_session_new(F.freed_net, F.data, NULL, F.cfg, &O.session));
    CASE(hf_session_new, HF_ERR_INVALID_HANDLE, "already been freed", hf_session_new(F.net, F.freed_data, NULL, F.cfg, &O.session));
    CASE(hf_session_new, HF_ERR_INVALID_HANDLE, "'test'", hf_session_new(F.net, F.data, F.freed_data, F.cfg, &O.session));
    CASE(hf_session_new, HF_ERR_INVALID_HANDLE, "already been freed", hf_session_new(F.net, F.data, NULL, F.freed_cfg, &O.session));
    CASE(hf_session_new, HF_ERR_INVALID_HANDLE, "expected hf_data", hf_session_new(F.net, (hf_data *)F.cfg, NULL, F.cfg, &O.session));
    CASE(hf_session_new, HF_ERR_INVALID_HANDLE, "expected hf_config", hf_session_new(F.net, F.data, NULL, (hf_config *)F.data, &O.session));
    CASE(hf_session_new, HF_ERR_INVALID_HANDLE, "never created", hf_session_new(FORGED_TAGGED(hf_net, 3), F.data, NULL, F.cfg, &O.session));
    CASE(hf_session_new, HF_ERR_SHAPE_MISMATCH, NULL, hf_session_new(F.net, F.data_other, NULL, F.cfg, &O.session));
    CASE(hf_session_new, HF_ERR_SHAPE_MISMATCH, NULL, hf_session_new(F.net, F.data, F.data_other, F.cfg, &O.session));
    CASE(hf_session_new, HF_ERR_OUT_OF_RANGE, "rho_low", hf_session_new(F.net, F.data, NULL, F.cfg_bad, &O.session));

    /* hf_session_new_host: bad callback structs and theta0 */
    CASE(hf_session_new_host, HF_ERR_NULL_POINTER, "'callbacks'", hf_session_new_host(NULL, t0, HP, NULL, &O.session));
    CASE(hf_session_new_host, HF_ERR_NULL_POINTER, "'out'", hf_session_new_host(&cb, t0, HP, NULL, NULL));
    CASE(hf_session_new_host, HF_ERR_NULL_POINTER, "'theta0'", hf_session_new_host(&cb, NULL, HP, NULL, &O.session));
    bad = cb, bad.loss_grad = NULL;
    CASE(hf_session_new_host, HF_ERR_NULL_POINTER, "loss_grad", hf_session_new_host(&bad, t0, HP, NULL, &O.session));
    bad = cb, bad.set_chunk = NULL;
    CASE(hf_session_new_host, HF_ERR_NULL_POINTER, "set_chunk", hf_session_new_host(&bad, t0, HP, NULL, &O.session));
    bad = cb, bad.curvature_product = NULL;
    CASE(hf_session_new_host, HF_ERR_NULL_POINTER, "curvature_product", hf_session_new_host(&bad, t0, HP, NULL, &O.session));
    bad = cb, bad.num_params = 0;
    CASE(hf_session_new_host, HF_ERR_INVALID_ARGUMENT, "num_params", hf_session_new_host(&bad, NULL, 0, NULL, &O.session));
    bad = cb, bad.num_examples = 0;
    CASE(hf_session_new_host, HF_ERR_INVALID_ARGUMENT, "num_examples", hf_session_new_host(&bad, t0, HP, NULL, &O.session));
    bad = cb, bad.curvature_kinds = 1u << 7;
    CASE(hf_session_new_host, HF_ERR_INVALID_ARGUMENT, "curvature_kinds", hf_session_new_host(&bad, t0, HP, NULL, &O.session));
    bad = cb, bad.num_params = SIZE_MAX;
    CASE(hf_session_new_host, HF_ERR_SHAPE_MISMATCH, "theta0_len", hf_session_new_host(&bad, t0, HP, NULL, &O.session));
    CASE(hf_session_new_host, HF_ERR_SHAPE_MISMATCH, "theta0_len", hf_session_new_host(&cb, t0, HP - 1, NULL, &O.session));
    CASE(hf_session_new_host, HF_ERR_NON_FINITE, "theta0", hf_session_new_host(&cb, t0_nan, HP, NULL, &O.session));
    CASE(hf_session_new_host, HF_ERR_UNSUPPORTED, "hessian", hf_session_new_host(&cb, t0, HP, F.cfg_hessian, &O.session));
    CASE(hf_session_new_host, HF_ERR_OUT_OF_RANGE, "rho_low", hf_session_new_host(&cb, t0, HP, F.cfg_bad, &O.session));
    CASE(hf_session_new_host, HF_ERR_INVALID_HANDLE, "expected hf_config", hf_session_new_host(&cb, t0, HP, (hf_config *)F.net, &O.session));

    /* hf_session_resume: files that are missing, unreadable, garbage or of another kind */
    CASE(hf_session_resume, HF_ERR_NULL_POINTER, "'path'", hf_session_resume(F.net, F.data, NULL, NULL, NULL, &O.session));
    CASE(hf_session_resume, HF_ERR_NULL_POINTER, "'out'", hf_session_resume(F.net, F.data, NULL, NULL, F.session_file, NULL));
    CASE(hf_session_resume, HF_ERR_NULL_POINTER, "'net'", hf_session_resume(NULL, F.data, NULL, NULL, F.session_file, &O.session));
    CASE(hf_session_resume, HF_ERR_NULL_POINTER, "'train'", hf_session_resume(F.net, NULL, NULL, NULL, F.session_file, &O.session));
    CASE(hf_session_resume, HF_ERR_INVALID_ARGUMENT, "empty path", hf_session_resume(F.net, F.data, NULL, NULL, "", &O.session));
    CASE(hf_session_resume, HF_ERR_IO, F.missing, hf_session_resume(F.net, F.data, NULL, NULL, F.missing, &O.session));
    CASE(hf_session_resume, HF_ERR_IO, F.dir, hf_session_resume(F.net, F.data, NULL, NULL, F.dir, &O.session));
    CASE(hf_session_resume, HF_ERR_IO, "/proc/nope/x", hf_session_resume(F.net, F.data, NULL, NULL, "/proc/nope/x", &O.session));
    CASE(hf_session_resume, HF_ERR_FORMAT, "garbage", hf_session_resume(F.net, F.data, NULL, NULL, F.garbage, &O.session));
    CASE(hf_session_resume, HF_ERR_FORMAT, "empty", hf_session_resume(F.net, F.data, NULL, NULL, F.empty, &O.session));
    CASE(hf_session_resume, HF_ERR_FORMAT, "net", hf_session_resume(F.net, F.data, NULL, NULL, F.net_file, &O.session));
    CASE(hf_session_resume, HF_ERR_SHAPE_MISMATCH, NULL, hf_session_resume(F.net_small, F.data, NULL, NULL, F.session_file, &O.session));
    CASE(hf_session_resume, HF_ERR_SHAPE_MISMATCH, NULL, hf_session_resume(F.net, F.data_other, NULL, NULL, F.session_file, &O.session));
    CASE(hf_session_resume, HF_ERR_OUT_OF_RANGE, "rho_low", hf_session_resume(F.net, F.data, NULL, F.cfg_bad, F.session_file, &O.session));
    CASE(hf_session_resume, HF_ERR_INVALID_HANDLE, "already been freed", hf_session_resume(F.freed_net, F.data, NULL, NULL, F.session_file, &O.session));

    CASE(hf_session_resume_host, HF_ERR_NULL_POINTER, "'callbacks'", hf_session_resume_host(NULL, NULL, F.host_file, &O.session));
    CASE(hf_session_resume_host, HF_ERR_NULL_POINTER, "'path'", hf_session_resume_host(&cb, NULL, NULL, &O.session));
    CASE(hf_session_resume_host, HF_ERR_NULL_POINTER, "'out'", hf_session_resume_host(&cb, NULL, F.host_file, NULL));
    bad = cb, bad.loss_grad = NULL;
    CASE(hf_session_resume_host, HF_ERR_NULL_POINTER, "loss_grad", hf_session_resume_host(&bad, NULL, F.host_file, &O.session));
    CASE(hf_session_resume_host, HF_ERR_IO, F.missing, hf_session_resume_host(&cb, NULL, F.missing, &O.session));
    CASE(hf_session_resume_host, HF_ERR_IO, F.dir, hf_session_resume_host(&cb, NULL, F.dir, &O.session));
    CASE(hf_session_resume_host, HF_ERR_FORMAT, "garbage", hf_session_resume_host(&cb, NULL, F.garbage, &O.session));
    CASE(hf_session_resume_host, HF_ERR_FORMAT, "net", hf_session_resume_host(&cb, NULL, F.net_file, &O.session));
    CASE(hf_session_resume_host, HF_ERR_SHAPE_MISMATCH, NULL, hf_session_resume_host(&cb, NULL, F.session_file, &O.session));
    CASE(hf_session_resume_host, HF_ERR_OUT_OF_RANGE, "rho_low", hf_session_resume_host(&cb, F.cfg_bad, F.host_file, &O.session));
    CASE(hf_session_resume_host, HF_ERR_UNSUPPORTED, "hessian", hf_session_resume_host(&cb, F.cfg_hessian, F.host_file, &O.session));

    /* hf_session_free */
    CASE(hf_session_free, HF_OK, NULL, hf_session_free(NULL));
    CASE(hf_session_free, HF_OK, NULL, hf_session_free(F.freed_session)); /* double free */
    CASE(hf_session_free, HF_ERR_INVALID_HANDLE, "never created", hf_session_free(FORGED(hf_session)));
    CASE(hf_session_free, HF_ERR_INVALID_HANDLE, "never created", hf_session_free(FORGED_TAGGED(hf_session, 4)));
    CASE(hf_session_free, HF_ERR_INVALID_HANDLE, "expected hf_session", hf_session_free((hf_session *)F.net));

    /* stepping and running: handles */
    CASE(hf_session_step, HF_ERR_NULL_POINTER, "'session'", hf_session_step(NULL, &rep));
    CASE(hf_session_step, HF_ERR_INVALID_HANDLE, "already been freed", hf_session_step(F.freed_session, &rep));
    CASE(hf_session_step, HF_ERR_INVALID_HANDLE, "never created", hf_session_step(FORGED(hf_session), &rep));
    CASE(hf_session_step, HF_ERR_INVALID_HANDLE, "is a hf_net handle, expected hf_session", hf_session_step((hf_session *)F.net, &rep));
    CASE(hf_session_run, HF_ERR_NULL_POINTER, "'session'", hf_session_run(NULL, NULL, NULL, &sum));
    CASE(hf_session_run, HF_ERR_INVALID_HANDLE, "already been freed", hf_session_run(F.freed_session, NULL, NULL, &sum));
    CASE(hf_session_run, HF_ERR_INVALID_HANDLE, "expected hf_session", hf_session_run((hf_session *)F.data, NULL, NULL, &sum));
    CASE(hf_session_request_stop, HF_ERR_NULL_POINTER, "'session'", hf_session_request_stop(NULL));
    CASE(hf_session_request_stop, HF_ERR_INVALID_HANDLE, "already been freed", hf_session_request_stop(F.freed_session));
    CASE(hf_session_request_stop, HF_ERR_INVALID_HANDLE, "never created", hf_session_request_stop(FORGED_TAGGED(hf_session, 4)));
    CASE(hf_session_request_stop, HF_ERR_INVALID_HANDLE, "expected hf_session", hf_session_request_stop((hf_session *)F.cfg));

    /* queries */
    CASE(hf_session_num_params, HF_ERR_NULL_POINTER, "'session'", hf_session_num_params(NULL, &O.size));
    CASE(hf_session_num_params, HF_ERR_NULL_POINTER, "'count'", hf_session_num_params(s, NULL));
    CASE(hf_session_num_params, HF_ERR_INVALID_HANDLE, "already been freed", hf_session_num_params(F.freed_session, &O.size));
    CASE(hf_session_get_params, HF_ERR_NULL_POINTER, "'session'", hf_session_get_params(NULL, O.floats, 256));
    CASE(hf_session_get_params, HF_ERR_NULL_POINTER, "'out'", hf_session_get_params(s, NULL, 256));
    CASE(hf_session_get_params, HF_ERR_BUFFER_TOO_SMALL, "45", hf_session_get_params(s, O.floats, F.p - 1));
    CASE(hf_session_get_params, HF_ERR_BUFFER_TOO_SMALL, "4", hf_session_get_params(F.host, NULL, 0));
    CASE(hf_session_get_params, HF_ERR_INVALID_HANDLE, "expected hf_session", hf_session_get_params((hf_session *)F.net, O.floats, 256));
    CASE(hf_session_copy_net, HF_ERR_NULL_POINTER, "'session'", hf_session_copy_net(NULL, &O.net));
    CASE(hf_session_copy_net, HF_ERR_NULL_POINTER, "'out'", hf_session_copy_net(s, NULL));
    CASE(hf_session_copy_net, HF_ERR_UNSUPPORTED, "host", hf_session_copy_net(F.host, &O.net));
    CASE(hf_session_copy_net, HF_ERR_INVALID_HANDLE, "already been freed", hf_session_copy_net(F.freed_session, &O.net));
    CASE(hf_session_iteration, HF_ERR_NULL_POINTER, "'session'", hf_session_iteration(NULL, &O.u64));
    CASE(hf_session_iteration, HF_ERR_NULL_POINTER, "'iteration'", hf_session_iteration(s, NULL));
    CASE(hf_session_iteration, HF_ERR_INVALID_HANDLE, "never created", hf_session_iteration(FORGED(hf_session), &O.u64));
    CASE(hf_session_lambda, HF_ERR_NULL_POINTER, "'session'", hf_session_lambda(NULL, &O.f64));
    CASE(hf_session_lambda, HF_ERR_NULL_POINTER, "'lambda'", hf_session_lambda(s, NULL));
    CASE(hf_session_lambda, HF_ERR_INVALID_HANDLE, "expected hf_session", hf_session_lambda((hf_session *)F.data, &O.f64));

    /* options: an invalid set leaves the session's options unchanged */
    CASE(hf_session_set_config, HF_ERR_NULL_POINTER, "'session'", hf_session_set_config(NULL, F.cfg));
    CASE(hf_session_set_config, HF_ERR_NULL_POINTER, "'cfg'", hf_session_set_config(s, NULL));
    CASE(hf_session_set_config, HF_ERR_OUT_OF_RANGE, "rho_low", hf_session_set_config(s, F.cfg_bad));
    CASE(hf_session_set_config, HF_ERR_INVALID_HANDLE, "already been freed", hf_session_set_config(s, F.freed_cfg));
    CASE(hf_session_set_config, HF_ERR_INVALID_HANDLE, "expected hf_config", hf_session_set_config(s, (hf_config *)F.data));
    CASE(hf_session_set_config, HF_ERR_UNSUPPORTED, "hessian", hf_session_set_config(F.host, F.cfg_hessian));
    CASE(hf_session_get_config, HF_ERR_NULL_POINTER, "'session'", hf_session_get_config(NULL, &O.cfg));
    CASE(hf_session_get_config, HF_ERR_NULL_POINTER, "'out'", hf_session_get_config(s, NULL));
    CASE(hf_session_get_config, HF_ERR_INVALID_HANDLE, "expected hf_session", hf_session_get_config((hf_session *)F.cfg, &O.cfg));

    /* save: paths that cannot be written */
    CASE(hf_session_save, HF_ERR_NULL_POINTER, "'session'", hf_session_save(NULL, F.session_file));
    CASE(hf_session_save, HF_ERR_NULL_POINTER, "'path'", hf_session_save(s, NULL));
    CASE(hf_session_save, HF_ERR_INVALID_ARGUMENT, "empty path", hf_session_save(s, ""));
    CASE(hf_session_save, HF_ERR_IO, "'/proc/nope/x'", hf_session_save(s, "/proc/nope/x"));
    CASE(hf_session_save, HF_ERR_IO, F.missing_quoted, hf_session_save(s, F.missing));
    CASE(hf_session_save, HF_ERR_IO, F.dir, hf_session_save(s, F.dir));
    CASE(hf_session_save, HF_ERR_IO, "'/proc/nope/x'", hf_session_save(F.host, "/proc/nope/x"));
    CASE(hf_session_save, HF_ERR_INVALID_HANDLE, "already been freed", hf_session_save(F.freed_session, F.session_file));

    /* text */
    CASE(hf_session_backend_name, HF_ERR_NULL_POINTER, "'session'", hf_session_backend_name(NULL, O.text, BUF));
    CASE(hf_session_backend_name, HF_ERR_NULL_POINTER, "'buf'", hf_session_backend_name(s, NULL, BUF));
    CASE(hf_session_backend_name, HF_ERR_BUFFER_TOO_SMALL, "bytes", hf_session_backend_name(s, O.text, 2));
    CASE(hf_session_backend_name, HF_ERR_BUFFER_TOO_SMALL, "bytes", hf_session_backend_name(F.host, NULL, 0));
    CASE(hf_session_backend_name, HF_ERR_INVALID_HANDLE, "expected hf_session", hf_session_backend_name((hf_session *)F.net, O.text, BUF));
    CASE(hf_session_summary_text, HF_ERR_NULL_POINTER, "'session'", hf_session_summary_text(NULL, 0, O.text, BUF));
    CASE(hf_session_summary_text, HF_ERR_NULL_POINTER, "'buf'", hf_session_summary_text(F.host, 0, NULL, BUF));
    CASE(hf_session_summary_text, HF_ERR_INVALID_ARGUMENT, "run", hf_session_summary_text(s, 0, O.text, BUF));
    CASE(hf_session_summary_text, HF_ERR_INVALID_ARGUMENT, "run", hf_session_summary_text(s, 1, O.text, BUF));
    CASE(hf_session_summary_text, HF_ERR_BUFFER_TOO_SMALL, "bytes", hf_session_summary_text(F.host, 0, O.text, 8));
    CASE(hf_session_summary_text, HF_ERR_BUFFER_TOO_SMALL, "bytes", hf_session_summary_text(F.host, 1, O.text, 64));
    CASE(hf_session_summary_text, HF_ERR_INVALID_HANDLE, "already been freed", hf_session_summary_text(F.freed_session, 0, O.text, BUF));
    CASE(hf_session_report_text, HF_ERR_NULL_POINTER, "'session'", hf_session_report_text(NULL, O.text, BUF));
    CASE(hf_session_report_text, HF_ERR_NULL_POINTER, "'buf'", hf_session_report_text(F.host, NULL, BUF));
    CASE(hf_session_report_text, HF_ERR_INVALID_ARGUMENT, "iteration", hf_session_report_text(s, O.text, BUF));
    CASE(hf_session_report_text, HF_ERR_BUFFER_TOO_SMALL, "bytes", hf_session_report_text(F.host, O.text, 8));
    CASE(hf_session_report_text, HF_ERR_INVALID_HANDLE, "never created", hf_session_report_text(FORGED_TAGGED(hf_session, 4), O.text, BUF));

    /* Calls from inside the session's own progress callback. */
    {
        reentry e;
        uint64_t before = F.host_iter;
        hf_config *more = NULL;
        memset(&e, 0, sizeof e);
        e.self = F.host;
        MUST(hf_session_get_config(F.host, &more));
        MUST(hf_config_set_i64(more, "max_iters", (int64_t)before + 1));
        MUST(hf_session_set_config(F.host, more));
        MUST(hf_config_free(more));
        F.in_callback = 1;
        MUST(hf_session_run(F.host, reenter, &e, &sum));
        F.in_callback = 0;
        MUST(hf_session_iteration(F.host, &F.host_iter));
        MUST(hf_session_get_params(F.host, F.host_theta, HP));
        record(__LINE__, "hf_session_iteration from its own progress callback",
               e.calls != 1 || F.host_iter != before + 1 ? "run did not do one iteration"
               : e.iteration != HF_ERR_UNSUPPORTED        ? "hf_session_iteration not refused"
                                                         : fixture_problem(),
               hf_status_str((int)e.iteration));
        record(__LINE__, "hf_session_get_params from its own progress callback",
               e.params != HF_ERR_UNSUPPORTED ? "hf_session_get_params not refused" : fixture_problem(),
               hf_status_str((int)e.params));
        record(__LINE__, "hf_session_step from its own progress callback",
               e.step != HF_ERR_UNSUPPORTED ? "hf_session_step not refused" : fixture_problem(),
               hf_status_str((int)e.step));
        record(__LINE__, "hf_session_request_stop from its own progress callback",
               e.stop != HF_OK || sum.termination != HF_TERMINATION_STOP_REQUESTED
                   ? "request_stop did not stop the run"
                   : fixture_problem(),
               hf_status_str((int)e.stop));
    }
}

/* ---------------------------------------------------------------- main */

static void write_file(const char *path, const char *bytes) {
    FILE *f = fopen(path, "wb");
    if (!f || fputs(bytes, f) < 0 || fclose(f) != 0) {
        printf("FAIL setup: cannot write %s\n", path);
        exit(1);
    }
}

static void setup(void) {
    const size_t enc[2] = {D, CODE}, enc_small[2] = {D, 2};
    float xo[N * 5], to[N * 3];
    hf_objective_callbacks cb = quadratic();
    const float t0[HP] = {1, -2, 0.5f, 3};
    hf_summary sum;
    hf_config *host_cfg = NULL;
    int i;

    strcpy(F.dir, "/tmp/hf_bad_input_XXXXXX");
    if (!mkdtemp(F.dir)) {
        printf("FAIL setup: mkdtemp\n");
        exit(1);
    }
    snprintf(F.garbage, sizeof F.garbage, "%s/garbage.bin", F.dir);
    snprintf(F.empty, sizeof F.empty, "%s/empty.bin", F.dir);
    snprintf(F.net_file, sizeof F.net_file, "%s/net.hfn", F.dir);
    snprintf(F.session_file, sizeof F.session_file, "%s/session.hfs", F.dir);
    snprintf(F.host_file, sizeof F.host_file, "%s/host.hfs", F.dir);
    snprintf(F.missing, sizeof F.missing, "%s/no/such/dir/file", F.dir);
    /* Quoted as error messages quote paths: the caller's path itself, not a
     * temporary file next to it. */
    snprintf(F.missing_quoted, sizeof F.missing_quoted, "'%s'", F.missing);
    write_file(F.garbage, "this is not a hessfree file, nor an IDX or .npy file\n");
    write_file(F.empty, "");

    for (i = 0; i < N * D; i++) F.x[i] = (float)(0.5 + 0.4 * sin(0.37 * i));
    for (i = 0; i < N * 5; i++) xo[i] = (float)i / (N * 5);
    for (i = 0; i < N * 3; i++) to[i] = (float)(i % 2);
    MUST(hf_data_new_autoencoder(N, D, F.x, N * D, &F.data));
    MUST(hf_data_new(N, 5, xo, N * 5, 3, to, N * 3, &F.data_other));
    MUST(hf_net_new_autoencoder(enc, 2, HF_ACT_LOGISTIC, 7, &F.net));
    MUST(hf_net_new_autoencoder(enc_small, 2, HF_ACT_LOGISTIC, 7, &F.net_small));
    MUST(hf_net_num_params(F.net, &F.p));
    if (F.p != 45 || F.p > 64) {
        printf("FAIL setup: expected 45 parameters, got %zu\n", F.p);
        exit(1);
    }
    MUST(hf_net_get_params(F.net, F.theta0, F.p));
    MUST(hf_net_save(F.net, F.net_file));

    MUST(hf_config_new(&F.cfg));
    MUST(hf_config_set_i64(F.cfg, "max_iters", 2));
    MUST(hf_config_set_i64(F.cfg, "chunk_size", 10));
    MUST(hf_config_set_i64(F.cfg, "cg_max_iters", 10));
    MUST(hf_config_set_str(F.cfg, "backend", "cpu"));
    MUST(hf_config_to_text(F.cfg, F.cfg_text, sizeof F.cfg_text));
    MUST(hf_config_clone(F.cfg, &F.cfg_bad));
    MUST(hf_config_set_f64(F.cfg_bad, "rho_low", 0.9));
    MUST(hf_config_set_f64(F.cfg_bad, "rho_high", 0.1));
    MUST(hf_config_clone(F.cfg, &F.cfg_hessian));
    MUST(hf_config_set_str(F.cfg_hessian, "curvature", "hessian"));

    MUST(hf_session_new(F.net, F.data, NULL, F.cfg, &F.session));
    MUST(hf_session_save(F.session, F.session_file));
    {
        hf_config *c = NULL;
        MUST(hf_session_get_config(F.session, &c));
        MUST(hf_config_to_text(c, F.session_cfg_text, sizeof F.session_cfg_text));
        MUST(hf_config_free(c));
    }

    MUST(hf_config_clone(F.cfg, &host_cfg));
    MUST(hf_config_set_i64(host_cfg, "chunk_size", 0));
    MUST(hf_session_new_host(&cb, t0, HP, host_cfg, &F.host));
    MUST(hf_config_free(host_cfg));
    MUST(hf_session_run(F.host, NULL, NULL, &sum)); /* two iterations: reports exist */
    MUST(hf_session_save(F.host, F.host_file));
    MUST(hf_session_iteration(F.host, &F.host_iter));
    MUST(hf_session_get_params(F.host, F.host_theta, HP));

    /* One freed handle of each kind. */
    MUST(hf_config_clone(F.cfg, &F.freed_cfg));
    MUST(hf_config_free(F.freed_cfg));
    MUST(hf_data_new_autoencoder(N, D, F.x, N * D, &F.freed_data));
    MUST(hf_data_free(F.freed_data));
    MUST(hf_net_clone(F.net, &F.freed_net));
    MUST(hf_net_free(F.freed_net));
    MUST(hf_session_new(F.net, F.data, NULL, F.cfg, &F.freed_session));
    MUST(hf_session_free(F.freed_session));
}

/* After the table: both sessions still train, and everything frees cleanly. */
static void still_trains(void) {
    hf_iteration_report r;
    float theta[64];
    int finite = 1;
    size_t k;
    uint64_t it = 0;
    MUST(hf_session_step(F.session, &r));
    MUST(hf_session_get_params(F.session, theta, F.p));
    for (k = 0; k < F.p; k++) finite &= isfinite(theta[k]) != 0;
    MUST(hf_session_iteration(F.session, &it));
    if (r.iteration != 1 || it != 1 || !finite || !isfinite(r.objective)) {
        printf("FAIL: the network session does not train after the table\n");
        exit(1);
    }
    MUST(hf_session_step(F.host, &r));
    if (r.iteration != F.host_iter + 1) {
        printf("FAIL: the host session does not train after the table\n");
        exit(1);
    }
}

static void teardown(void) {
    MUST(hf_session_free(F.session));
    MUST(hf_session_free(F.host));
    MUST(hf_net_free(F.net));
    MUST(hf_net_free(F.net_small));
    MUST(hf_data_free(F.data));
    MUST(hf_data_free(F.data_other));
    MUST(hf_config_free(F.cfg));
    MUST(hf_config_free(F.cfg_bad));
    MUST(hf_config_free(F.cfg_hessian));
    unlink(F.garbage);
    unlink(F.empty);
    unlink(F.net_file);
    unlink(F.session_file);
    unlink(F.host_file);
    rmdir(F.dir);
}

int main(void) {
    int table_rows;
    setup();
    reset_outputs();
    rows_version_and_text();
    rows_config();
    rows_data();
    rows_net();
    rows_session();
    table_rows = rows;
    still_trains(); /* exits with a FAIL line if a session no longer trains */
    teardown();
    printf("bad-input table: %d distinct cases; all objects usable afterwards\n", table_rows);
    return check_summary("test_bad_input_table");
}
