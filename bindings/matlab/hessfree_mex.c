/*
 * hessfree_mex: the MEX gateway between MATLAB/Octave and the hessfree C ABI.
 *
 *   out = hessfree_mex('command', args...)
 *
 * One gateway dispatches on a command string (see COMMANDS below, or call
 * hessfree_mex('help')). The +hessfree classdef package is the intended
 * interface; this gateway is its private plumbing, but it is usable
 * directly and is what the tests use to try bad arguments.
 *
 * Conventions
 * - Handles are the C handle pointers carried as uint64 scalars. The library
 *   validates every handle it is given (a registry of live handles), so a
 *   freed, forged or wrong-kind value is an error, never a crash. 0 is NULL.
 * - Matrices are double or single, one example per column: a D x N
 *   column-major MATLAB array is exactly the C library's N x D row-major
 *   layout, so nothing is transposed. Results computed by the library in
 *   float come back as single.
 * - Every error is raised with mexErrMsgIdAndTxt as "hessfree:<status name>"
 *   (e.g. "hessfree:HF_ERR_NON_FINITE") with the library's message from
 *   hf_last_error_message; argument errors found here use the same scheme.
 * - Errors are raised only from the gateway's own frames, never from inside
 *   a callback the library is running (that would unwind through Rust).
 * - Progress callbacks are function handles, called through the helper
 *   +hessfree/invoke_callback_.m (which catches errors in user code) with
 *   mexCallMATLABWithTrap (which catches anything else): an error stops the
 *   run (the C callback returns nonzero) and is raised again, with the
 *   user's identifier and message, after hf_session_run has returned.
 * - The gateway locks itself in memory (mexLock) on first use: the library
 *   is linked statically into it, and unloading it while objects are alive
 *   would orphan them.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mex.h"
#include "hessfree.h"

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* The command being run, for argument error messages. */
static const char *g_command = "";

/* Raises "hessfree:<status>" with a printf-style message prefixed by the
 * command. Does not return. */
static void fail(hf_status status, const char *fmt, ...) {
    char id[96], message[2048];
    int used;
    va_list ap;
    snprintf(id, sizeof id, "hessfree:%s", hf_status_str((int)status));
    /* MATLAB shows the message as is; Octave prefixes "hessfree_mex: ". */
    used = g_command[0] ? snprintf(message, sizeof message, "%s: ", g_command) : 0;
    if (used < 0 || (size_t)used >= sizeof message) used = 0;
    va_start(ap, fmt);
    vsnprintf(message + used, sizeof message - (size_t)used, fmt, ap);
    va_end(ap);
    mexErrMsgIdAndTxt(id, "%s", message);
}

/* Raises the error of a failed library call: the status name as identifier
 * and the thread's last error message as text. Does not return. */
static void fail_status(hf_status status) {
    char message[4096];
    char id[96];
    message[0] = '\0';
    /* A longer message comes back truncated (still NUL-terminated). */
    (void)hf_last_error_message(message, sizeof message);
    snprintf(id, sizeof id, "hessfree:%s", hf_status_str((int)status));
    mexErrMsgIdAndTxt(id, "%s", message[0] ? message : hf_status_str((int)status));
}

/* Calls the library; on error raises it. Only for calls after which nothing
 * needs cleaning up. */
#define HF_TRY(call)                              \
    do {                                          \
        hf_status st_ = (call);                   \
        if (st_ != HF_OK) fail_status(st_);       \
    } while (0)

/* ------------------------------------------------------------------------
 * Arguments
 * ------------------------------------------------------------------------ */

/* A real, non-sparse numeric or logical scalar. */
static int is_real_scalar(const mxArray *a) {
    return (mxIsNumeric(a) || mxIsLogical(a)) && !mxIsComplex(a) && !mxIsSparse(a) &&
           mxGetNumberOfElements(a) == 1;
}

/* The value of a real scalar as a double (integer classes converted). */
static double scalar_value(const mxArray *a) { return mxGetScalar(a); }

/* A handle argument: a uint64 scalar holding a C pointer (0 = NULL). */
static void *arg_handle(const mxArray *a, const char *name) {
    uint64_t value;
    if (!mxIsUint64(a) || mxIsComplex(a) || mxGetNumberOfElements(a) != 1) {
        fail(HF_ERR_INVALID_HANDLE, "argument '%s' must be a uint64 scalar handle (got a %s)",
             name, mxGetClassName(a));
    }
    value = *(const uint64_t *)mxGetData(a);
    if (value > (uint64_t)UINTPTR_MAX) {
        fail(HF_ERR_INVALID_HANDLE, "argument '%s' = %llu is not a handle", name,
             (unsigned long long)value);
    }
    return (void *)(uintptr_t)value;
}

/* An optional handle: [] or 0 means none (NULL). */
static void *arg_optional_handle(const mxArray *a, const char *name) {
    if (mxIsEmpty(a)) return NULL;
    return arg_handle(a, name);
}

/* A string argument as a NUL-terminated copy (mxFree'd automatically at
 * the end of the call, also on error). */
static char *arg_string(const mxArray *a, const char *name) {
    char *s;
    if (!mxIsChar(a) || (mxGetM(a) > 1 && mxGetNumberOfElements(a) > 0)) {
        fail(HF_ERR_WRONG_TYPE, "argument '%s' must be a character row vector (got a %s)", name,
             mxGetClassName(a));
    }
    s = mxArrayToString(a);
    if (s == NULL) fail(HF_ERR_INVALID_ARGUMENT, "argument '%s' cannot be converted to text", name);
    return s;
}

/* A real scalar argument, checked finite. */
static double arg_double(const mxArray *a, const char *name) {
    double v;
    if (!is_real_scalar(a)) {
        fail(HF_ERR_WRONG_TYPE, "argument '%s' must be a real scalar (got a %s of %llu elements)",
             name, mxGetClassName(a), (unsigned long long)mxGetNumberOfElements(a));
    }
    v = scalar_value(a);
    if (!isfinite(v)) fail(HF_ERR_NON_FINITE, "argument '%s' is %g; it must be finite", name, v);
    return v;
}

/* A non-negative integer that fits size_t, from one numeric value (`index`
 * >= 0 names an element of a vector in messages). */
static size_t to_size(double v, const char *name, long index) {
    char where[64] = "";
    if (index >= 0) snprintf(where, sizeof where, "(%ld)", index + 1);
    if (!isfinite(v)) fail(HF_ERR_NON_FINITE, "%s%s is %g; it must be a finite integer", name, where, v);
    if (v < 0 || v != floor(v)) {
        fail(HF_ERR_OUT_OF_RANGE, "%s%s = %.17g must be a non-negative integer", name, where, v);
    }
    /* 2^64 as a double; sizes beyond size_t cannot be represented. */
    if (v >= 18446744073709551616.0 || v > (double)SIZE_MAX) {
        fail(HF_ERR_OUT_OF_RANGE, "%s%s = %.17g is larger than the largest size", name, where, v);
    }
    return (size_t)v;
}

/* A count or size argument. */
static size_t arg_size(const mxArray *a, const char *name) {
    if (!is_real_scalar(a)) {
        fail(HF_ERR_WRONG_TYPE, "argument '%s' must be a real scalar (got a %s of %llu elements)",
             name, mxGetClassName(a), (unsigned long long)mxGetNumberOfElements(a));
    }
    if (mxIsUint64(a)) return (size_t)*(const uint64_t *)mxGetData(a);
    return to_size(scalar_value(a), name, -1);
}

/* A seed: a non-negative integer; uint64/int64 values are taken exactly,
 * doubles must be integers up to 2^53 (beyond, doubles are not exact). */
static uint64_t arg_seed(const mxArray *a, const char *name) {
    double v;
    if (!is_real_scalar(a) || mxIsLogical(a)) {
        fail(HF_ERR_WRONG_TYPE, "argument '%s' must be an integer scalar (got a %s)", name,
             mxGetClassName(a));
    }
    if (mxIsUint64(a)) return *(const uint64_t *)mxGetData(a);
    if (mxIsInt64(a)) {
        int64_t s = *(const int64_t *)mxGetData(a);
        if (s < 0) fail(HF_ERR_OUT_OF_RANGE, "argument '%s' = %lld must be >= 0", name, (long long)s);
        return (uint64_t)s;
    }
    v = scalar_value(a);
    if (!isfinite(v) || v < 0 || v != floor(v) || v > 9007199254740992.0) {
        fail(HF_ERR_OUT_OF_RANGE,
             "argument '%s' = %.17g must be an integer in [0, 2^53] (use uint64 for larger seeds)",
             name, v);
    }
    return (uint64_t)v;
}

/* Element i of a real numeric array as a double (any numeric class). */
static double numeric_element(const mxArray *a, size_t i) {
    const void *p = mxGetData(a);
    switch (mxGetClassID(a)) {
    case mxDOUBLE_CLASS: return ((const double *)p)[i];
    case mxSINGLE_CLASS: return ((const float *)p)[i];
    case mxINT8_CLASS: return ((const int8_t *)p)[i];
    case mxUINT8_CLASS: return ((const uint8_t *)p)[i];
    case mxINT16_CLASS: return ((const int16_t *)p)[i];
    case mxUINT16_CLASS: return ((const uint16_t *)p)[i];
    case mxINT32_CLASS: return ((const int32_t *)p)[i];
    case mxUINT32_CLASS: return ((const uint32_t *)p)[i];
    case mxINT64_CLASS: return (double)((const int64_t *)p)[i];
    case mxUINT64_CLASS: return (double)((const uint64_t *)p)[i];
    default: return NAN;
    }
}

/* A vector of sizes (e.g. layer widths) as a new size_t array of *len. */
static size_t *arg_size_vector(const mxArray *a, const char *name, size_t *len) {
    size_t i, n;
    size_t *out;
    if (!mxIsNumeric(a) || mxIsComplex(a) || mxIsSparse(a) || mxGetNumberOfDimensions(a) > 2 ||
        (mxGetM(a) > 1 && mxGetN(a) > 1)) {
        fail(HF_ERR_WRONG_TYPE, "argument '%s' must be a real numeric vector (got a %s)", name,
             mxGetClassName(a));
    }
    n = mxGetNumberOfElements(a);
    out = (size_t *)mxCalloc(n ? n : 1, sizeof *out);
    for (i = 0; i < n; i++) {
        if (mxIsUint64(a)) {
            out[i] = (size_t)((const uint64_t *)mxGetData(a))[i];
        } else {
            out[i] = to_size(numeric_element(a, i), name, (long)i);
        }
    }
    *len = n;
    return out;
}

/* A real, full, 2-D double or single matrix. */
static void check_matrix(const mxArray *a, const char *name) {
    if (!(mxIsDouble(a) || mxIsSingle(a)) || mxIsComplex(a) || mxIsSparse(a)) {
        fail(HF_ERR_WRONG_TYPE, "argument '%s' must be a real, full double or single matrix (got %s%s)",
             name, mxIsComplex(a) ? "complex " : mxIsSparse(a) ? "sparse " : "", mxGetClassName(a));
    }
    if (mxGetNumberOfDimensions(a) != 2) {
        fail(HF_ERR_SHAPE_MISMATCH,
             "argument '%s' must be a 2-D matrix, one example per column (got %d dimensions)", name,
             (int)mxGetNumberOfDimensions(a));
    }
}

/* A float copy of a double or single array (for library calls that take
 * floats). Finite doubles beyond float's range are refused here, since
 * converting would silently turn them into infinities. */
static float *to_floats(const mxArray *a, const char *name) {
    size_t i, n = mxGetNumberOfElements(a);
    float *out;
    if (mxIsSingle(a)) return (float *)mxGetData(a);
    out = (float *)mxMalloc((n ? n : 1) * sizeof *out);
    for (i = 0; i < n; i++) {
        double v = mxGetPr(a)[i];
        if (isfinite(v) && fabs(v) > FLT_MAX) {
            fail(HF_ERR_OUT_OF_RANGE, "%s(%llu) = %g is beyond single precision's range", name,
                 (unsigned long long)(i + 1), v);
        }
        out[i] = (float)v;
    }
    return out;
}

/* A double copy of a single array (for mixing single and double data). */
static double *to_doubles(const mxArray *a) {
    size_t i, n = mxGetNumberOfElements(a);
    double *out;
    const float *in;
    if (mxIsDouble(a)) return mxGetPr(a);
    in = (const float *)mxGetData(a);
    out = (double *)mxMalloc((n ? n : 1) * sizeof *out);
    for (i = 0; i < n; i++) out[i] = in[i];
    return out;
}

/* ------------------------------------------------------------------------
 * Results
 * ------------------------------------------------------------------------ */

static mxArray *handle_out(const void *p) {
    mxArray *a = mxCreateNumericMatrix(1, 1, mxUINT64_CLASS, mxREAL);
    *(uint64_t *)mxGetData(a) = (uint64_t)(uintptr_t)p;
    return a;
}

/* A rows x cols single matrix and its data pointer. */
static mxArray *single_matrix(size_t rows, size_t cols, float **data) {
    mxArray *a = mxCreateNumericMatrix(rows, cols, mxSINGLE_CLASS, mxREAL);
    *data = (float *)mxGetData(a);
    return a;
}

/* Text from a library call of the form f(obj, buf, len) that reports
 * HF_ERR_BUFFER_TOO_SMALL when the text does not fit: retries with a larger
 * buffer. */
typedef hf_status (*text_fn)(const void *obj, int arg, char *buf, size_t len);

static mxArray *text_out(text_fn f, const void *obj, int arg) {
    size_t len = 1024;
    for (;;) {
        char *buf = (char *)mxMalloc(len);
        hf_status st = f(obj, arg, buf, len);
        if (st == HF_OK) {
            mxArray *s = mxCreateString(buf);
            mxFree(buf);
            return s;
        }
        mxFree(buf);
        if (st != HF_ERR_BUFFER_TOO_SMALL || len >= ((size_t)1 << 26)) fail_status(st);
        len *= 4;
    }
}

/* Adapters of the library's text functions to text_fn. */
static hf_status describe_fn(const void *o, int a, char *b, size_t n) {
    (void)a;
    return hf_net_describe((const hf_net *)o, b, n);
}
static hf_status config_text_fn(const void *o, int a, char *b, size_t n) {
    (void)a;
    return hf_config_to_text((const hf_config *)o, b, n);
}
static hf_status backend_fn(const void *o, int a, char *b, size_t n) {
    (void)a;
    return hf_session_backend_name((const hf_session *)o, b, n);
}
static hf_status summary_text_fn(const void *o, int a, char *b, size_t n) {
    return hf_session_summary_text((const hf_session *)o, a, b, n);
}
static hf_status report_text_fn(const void *o, int a, char *b, size_t n) {
    (void)a;
    return hf_session_report_text((const hf_session *)o, b, n);
}

/* A 1x1 struct with the given field names. */
static mxArray *new_struct(const char **fields, int count) {
    return mxCreateStructMatrix(1, 1, count, fields);
}

static void set_num(mxArray *s, const char *field, double v) {
    mxSetField(s, 0, field, mxCreateDoubleScalar(v));
}

static const char *REPORT_FIELDS[] = {
    "iteration",     "objective",     "train_error",   "test_objective",      "test_error",
    "cg_iterations", "cg_iterations_total", "cg_chosen", "rho",               "lambda",
    "ls_shrinks",    "ls_rate",       "p_norm",        "wall_seconds",        "total_seconds",
    "products",      "products_total", "evaluations",  "chunk_start",         "chunk_len",
    "cg_stop",       "rejected",      "reject_reason", "reject_reason_text",
};

/* The report of one iteration as a struct (counts as doubles; chunk_start
 * 0-based as in C; rejected logical). Creates MATLAB arrays only: safe to
 * call from inside the progress callback. */
static mxArray *report_struct(const hf_iteration_report *r) {
    mxArray *s = new_struct(REPORT_FIELDS, (int)(sizeof REPORT_FIELDS / sizeof *REPORT_FIELDS));
    set_num(s, "iteration", (double)r->iteration);
    set_num(s, "objective", r->objective);
    set_num(s, "train_error", r->train_error);
    set_num(s, "test_objective", r->test_objective);
    set_num(s, "test_error", r->test_error);
    set_num(s, "cg_iterations", (double)r->cg_iterations);
    set_num(s, "cg_iterations_total", (double)r->cg_iterations_total);
    set_num(s, "cg_chosen", (double)r->cg_chosen);
    set_num(s, "rho", r->rho);
    set_num(s, "lambda", r->lambda);
    set_num(s, "ls_shrinks", (double)r->ls_shrinks);
    set_num(s, "ls_rate", r->ls_rate);
    set_num(s, "p_norm", r->p_norm);
    set_num(s, "wall_seconds", r->wall_seconds);
    set_num(s, "total_seconds", r->total_seconds);
    set_num(s, "products", (double)r->products);
    set_num(s, "products_total", (double)r->products_total);
    set_num(s, "evaluations", (double)r->evaluations);
    set_num(s, "chunk_start", (double)r->chunk_start);
    set_num(s, "chunk_len", (double)r->chunk_len);
    set_num(s, "cg_stop", (double)r->cg_stop);
    mxSetField(s, 0, "rejected", mxCreateLogicalScalar(r->rejected != 0));
    set_num(s, "reject_reason", (double)r->reject_reason);
    mxSetField(s, 0, "reject_reason_text", mxCreateString(hf_reject_reason_str(r->reject_reason)));
    return s;
}

static const char *SUMMARY_FIELDS[] = {
    "iterations",        "iterations_total", "rejected",         "cg_iterations_total",
    "products_total",    "evaluations_total", "final_objective", "final_train_error",
    "final_test_error",  "final_lambda",     "wall_seconds",     "total_seconds",
    "termination",       "termination_code",
};

static mxArray *summary_struct(const hf_summary *r) {
    mxArray *s = new_struct(SUMMARY_FIELDS, (int)(sizeof SUMMARY_FIELDS / sizeof *SUMMARY_FIELDS));
    set_num(s, "iterations", (double)r->iterations);
    set_num(s, "iterations_total", (double)r->iterations_total);
    set_num(s, "rejected", (double)r->rejected);
    set_num(s, "cg_iterations_total", (double)r->cg_iterations_total);
    set_num(s, "products_total", (double)r->products_total);
    set_num(s, "evaluations_total", (double)r->evaluations_total);
    set_num(s, "final_objective", r->final_objective);
    set_num(s, "final_train_error", r->final_train_error);
    set_num(s, "final_test_error", r->final_test_error);
    set_num(s, "final_lambda", r->final_lambda);
    set_num(s, "wall_seconds", r->wall_seconds);
    set_num(s, "total_seconds", r->total_seconds);
    mxSetField(s, 0, "termination", mxCreateString(hf_termination_str(r->termination)));
    set_num(s, "termination_code", (double)r->termination);
    return s;
}

/* ------------------------------------------------------------------------
 * Names of enumerations
 * ------------------------------------------------------------------------ */

static const char *ACTIVATION_NAMES[] = {"logistic", "tanh", "linear", "relu", "softmax"};
enum { N_ACTIVATIONS = 5 };

/* An activation given by name (any case) or by its hf_activation code. */
static int32_t activation_code(const mxArray *a, const char *name) {
    int i;
    if (mxIsChar(a)) {
        char *s = arg_string(a, name);
        for (i = 0; i < N_ACTIVATIONS; i++) {
            const char *p = s, *q = ACTIVATION_NAMES[i];
            while (*p && *q && (*p | 0x20) == *q) p++, q++;
            if (*p == '\0' && *q == '\0') return (int32_t)i;
        }
        fail(HF_ERR_INVALID_ARGUMENT,
             "%s = '%s' is not an activation (logistic, tanh, linear, relu, softmax)", name, s);
    }
    {
        double v = arg_double(a, name);
        if (v != floor(v) || v < INT32_MIN || v > INT32_MAX) {
            fail(HF_ERR_INVALID_ARGUMENT, "%s = %g is not an activation code", name, v);
        }
        return (int32_t)v; /* the library checks the range and names it */
    }
}

/* Activations for hf_net_new: a cell array of names/codes, a numeric vector
 * of codes, or one name (used for every layer). */
static int32_t *activation_codes(const mxArray *a, size_t layers, size_t *len) {
    size_t i, n;
    int32_t *out;
    if (mxIsChar(a)) {
        int32_t code = activation_code(a, "activations");
        n = layers;
        out = (int32_t *)mxCalloc(n ? n : 1, sizeof *out);
        for (i = 0; i < n; i++) out[i] = code;
    } else if (mxIsCell(a)) {
        n = mxGetNumberOfElements(a);
        out = (int32_t *)mxCalloc(n ? n : 1, sizeof *out);
        for (i = 0; i < n; i++) {
            const mxArray *c = mxGetCell(a, i);
            char what[48];
            snprintf(what, sizeof what, "activations{%lu}", (unsigned long)(i + 1));
            if (c == NULL) fail(HF_ERR_INVALID_ARGUMENT, "%s is empty", what);
            out[i] = activation_code(c, what);
        }
    } else if (mxIsDouble(a) && !mxIsComplex(a)) {
        n = mxGetNumberOfElements(a);
        out = (int32_t *)mxCalloc(n ? n : 1, sizeof *out);
        for (i = 0; i < n; i++) {
            double v = mxGetPr(a)[i];
            if (v != floor(v) || v < INT32_MIN || v > INT32_MAX) {
                fail(HF_ERR_INVALID_ARGUMENT, "activations(%lu) = %g is not an activation code",
                     (unsigned long)(i + 1), v);
            }
            out[i] = (int32_t)v;
        }
    } else {
        fail(HF_ERR_WRONG_TYPE,
             "argument 'activations' must be a cell array of names, a name, or double codes (got a %s)",
             mxGetClassName(a));
        return NULL;
    }
    *len = n;
    return out;
}

/* ------------------------------------------------------------------------
 * Commands
 * ------------------------------------------------------------------------ */

typedef void (*command_fn)(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]);

/* ---- misc ---- */

static void cmd_version(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    (void)nlhs, (void)nrhs, (void)prhs;
    plhs[0] = mxCreateString(hf_version());
}

static void cmd_status_str(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    double v = arg_double(prhs[0], "code");
    (void)nlhs, (void)nrhs;
    plhs[0] = mxCreateString(hf_status_str(v == floor(v) && fabs(v) < 1e9 ? (int)v : -1));
}

/* ---- data ---- */

/* data_new(X) (autoencoder) or data_new(X, Y): D x N matrices. */
static void cmd_data_new(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    const mxArray *x = prhs[0], *y = nrhs > 1 ? prhs[1] : NULL;
    size_t n, din, dout;
    hf_data *data = NULL;
    hf_status st;
    (void)nlhs;
    check_matrix(x, "inputs");
    din = mxGetM(x);
    n = mxGetN(x);
    /* Only [] (0 x 0) means "no targets": a 0 x N targets matrix is a
     * zero-width target set, which the library refuses. */
    if (y == NULL || (mxGetM(y) == 0 && mxGetN(y) == 0)) {
        if (mxIsSingle(x)) {
            st = hf_data_new_autoencoder(n, din, (const float *)mxGetData(x), din * n, &data);
        } else {
            st = hf_data_new_autoencoder_f64(n, din, mxGetPr(x), din * n, &data);
        }
    } else {
        check_matrix(y, "targets");
        dout = mxGetM(y);
        if (mxGetN(y) != n) {
            fail(HF_ERR_SHAPE_MISMATCH,
                 "inputs have %lu columns (examples) but targets have %lu: both must be D x N "
                 "with one example per column",
                 (unsigned long)n, (unsigned long)mxGetN(y));
        }
        if (mxIsSingle(x) && mxIsSingle(y)) {
            st = hf_data_new(n, din, (const float *)mxGetData(x), din * n, dout,
                             (const float *)mxGetData(y), dout * n, &data);
        } else {
            st = hf_data_new_f64(n, din, to_doubles(x), din * n, dout, to_doubles(y), dout * n,
                                 &data);
        }
    }
    if (st != HF_OK) fail_status(st);
    plhs[0] = handle_out(data);
}

static void cmd_data_curves(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    hf_data *data = NULL;
    size_t n = arg_size(prhs[0], "n");
    uint64_t seed = arg_seed(prhs[1], "seed");
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_data_curves(n, seed, &data));
    plhs[0] = handle_out(data);
}

/* Two handles (train, test) from a loader. */
static void two_handles(int nlhs, mxArray *plhs[], hf_data *train, hf_data *test) {
    plhs[0] = handle_out(train);
    if (nlhs > 1) {
        plhs[1] = handle_out(test);
    } else {
        hf_data_free(test); /* not wanted: do not leak it */
    }
}

static void cmd_data_mnist(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    hf_data *train = NULL, *test = NULL;
    char *dir = arg_string(prhs[0], "dir");
    (void)nrhs;
    HF_TRY(hf_data_load_mnist(dir, &train, &test));
    two_handles(nlhs, plhs, train, test);
}

static void cmd_data_faces(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    hf_data *train = NULL, *test = NULL;
    char *path = arg_string(prhs[0], "olivetti_npy");
    size_t per_image = arg_size(prhs[1], "per_image");
    uint64_t seed = arg_seed(prhs[2], "seed");
    (void)nrhs;
    HF_TRY(hf_data_faces(path, per_image, seed, &train, &test));
    two_handles(nlhs, plhs, train, test);
}

static void cmd_data_preset(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    hf_data *train = NULL, *test = NULL;
    char *name = arg_string(prhs[0], "preset");
    char *dir = arg_string(prhs[1], "data_dir");
    uint64_t seed = arg_seed(prhs[2], "seed");
    (void)nrhs;
    HF_TRY(hf_data_preset(name, dir, seed, &train, &test));
    two_handles(nlhs, plhs, train, test);
}

static void cmd_data_free(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    (void)nlhs, (void)plhs, (void)nrhs;
    HF_TRY(hf_data_free((hf_data *)arg_handle(prhs[0], "data")));
}

/* [n, input_dim, target_dim] */
static void cmd_data_size(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    size_t n = 0, din = 0, dout = 0;
    (void)nrhs;
    HF_TRY(hf_data_size((const hf_data *)arg_handle(prhs[0], "data"), &n, &din, &dout));
    plhs[0] = mxCreateDoubleScalar((double)n);
    if (nlhs > 1) plhs[1] = mxCreateDoubleScalar((double)din);
    if (nlhs > 2) plhs[2] = mxCreateDoubleScalar((double)dout);
}

/* The inputs (or targets) as a single D x N matrix. */
static void data_copy(mxArray *plhs[], const mxArray *h, int targets) {
    const hf_data *data = (const hf_data *)arg_handle(h, "data");
    size_t n = 0, din = 0, dout = 0, dim;
    float *dest;
    HF_TRY(hf_data_size(data, &n, &din, &dout));
    dim = targets ? dout : din;
    plhs[0] = single_matrix(dim, n, &dest);
    HF_TRY(targets ? hf_data_copy_targets(data, dest, dim * n)
                   : hf_data_copy_inputs(data, dest, dim * n));
}

static void cmd_data_inputs(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    (void)nlhs, (void)nrhs;
    data_copy(plhs, prhs[0], 0);
}

static void cmd_data_targets(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    (void)nlhs, (void)nrhs;
    data_copy(plhs, prhs[0], 1);
}

/* ---- net ---- */

static void cmd_net_new(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    size_t n_sizes = 0, n_acts = 0;
    size_t *sizes = arg_size_vector(prhs[0], "sizes", &n_sizes);
    int32_t *acts = activation_codes(prhs[1], n_sizes ? n_sizes - 1 : 0, &n_acts);
    uint64_t seed = arg_seed(prhs[2], "seed");
    hf_net *net = NULL;
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_net_new(sizes, n_sizes, acts, n_acts, seed, &net));
    plhs[0] = handle_out(net);
}

static void cmd_net_new_autoencoder(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    size_t n = 0;
    size_t *encoder = arg_size_vector(prhs[0], "encoder", &n);
    int32_t output = activation_code(prhs[1], "output_activation");
    uint64_t seed = arg_seed(prhs[2], "seed");
    hf_net *net = NULL;
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_net_new_autoencoder(encoder, n, output, seed, &net));
    plhs[0] = handle_out(net);
}

static void cmd_net_new_preset(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    char *name = arg_string(prhs[0], "preset");
    uint64_t seed = arg_seed(prhs[1], "seed");
    hf_net *net = NULL;
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_net_new_preset(name, seed, &net));
    plhs[0] = handle_out(net);
}

static void cmd_net_load(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    char *path = arg_string(prhs[0], "path");
    hf_net *net = NULL;
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_net_load(path, &net));
    plhs[0] = handle_out(net);
}

static void cmd_net_save(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    const hf_net *net = (const hf_net *)arg_handle(prhs[0], "net");
    char *path = arg_string(prhs[1], "path");
    (void)nlhs, (void)plhs, (void)nrhs;
    HF_TRY(hf_net_save(net, path));
}

static void cmd_net_clone(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    hf_net *copy = NULL;
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_net_clone((const hf_net *)arg_handle(prhs[0], "net"), &copy));
    plhs[0] = handle_out(copy);
}

static void cmd_net_free(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    (void)nlhs, (void)plhs, (void)nrhs;
    HF_TRY(hf_net_free((hf_net *)arg_handle(prhs[0], "net")));
}

static void cmd_net_num_params(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    size_t p = 0;
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_net_num_params((const hf_net *)arg_handle(prhs[0], "net"), &p));
    plhs[0] = mxCreateDoubleScalar((double)p);
}

/* [sizes (row, input first), activations (cell of names)] */
static void cmd_net_layers(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    const hf_net *net = (const hf_net *)arg_handle(prhs[0], "net");
    size_t n = 0, i;
    size_t *sizes;
    int32_t *acts;
    (void)nrhs;
    HF_TRY(hf_net_num_layers(net, &n));
    sizes = (size_t *)mxCalloc(n ? n : 1, sizeof *sizes);
    acts = (int32_t *)mxCalloc(n ? n : 1, sizeof *acts);
    HF_TRY(hf_net_layer_sizes(net, sizes, n));
    HF_TRY(hf_net_layer_activations(net, acts, n ? n - 1 : 0));
    plhs[0] = mxCreateDoubleMatrix(1, n, mxREAL);
    for (i = 0; i < n; i++) mxGetPr(plhs[0])[i] = (double)sizes[i];
    if (nlhs > 1) {
        plhs[1] = mxCreateCellMatrix(1, n ? n - 1 : 0);
        for (i = 0; i + 1 < n; i++) {
            int32_t c = acts[i];
            mxSetCell(plhs[1], i,
                      mxCreateString(c >= 0 && c < N_ACTIVATIONS ? ACTIVATION_NAMES[c] : "unknown"));
        }
    }
}

static void cmd_net_describe(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    (void)nlhs, (void)nrhs;
    plhs[0] = text_out(describe_fn, arg_handle(prhs[0], "net"), 0);
}

/* θ as a single column vector. */
static void cmd_net_params(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    const hf_net *net = (const hf_net *)arg_handle(prhs[0], "net");
    size_t p = 0;
    float *dest;
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_net_num_params(net, &p));
    plhs[0] = single_matrix(p, 1, &dest);
    HF_TRY(hf_net_get_params(net, dest, p));
}

static void cmd_net_set_params(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    hf_net *net = (hf_net *)arg_handle(prhs[0], "net");
    const mxArray *v = prhs[1];
    (void)nlhs, (void)plhs, (void)nrhs;
    check_matrix(v, "params");
    if (mxGetM(v) > 1 && mxGetN(v) > 1) {
        fail(HF_ERR_SHAPE_MISMATCH, "argument 'params' must be a vector (got %lu x %lu)",
             (unsigned long)mxGetM(v), (unsigned long)mxGetN(v));
    }
    HF_TRY(hf_net_set_params(net, to_floats(v, "params"), mxGetNumberOfElements(v)));
}

/* outputs (Dout x N single) = net_predict(net, X (Din x N)) */
static void cmd_net_predict(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    const hf_net *net = (const hf_net *)arg_handle(prhs[0], "net");
    const mxArray *x = prhs[1];
    size_t n_layers = 0, n, din;
    size_t *sizes;
    float *dest;
    (void)nlhs, (void)nrhs;
    check_matrix(x, "inputs");
    din = mxGetM(x);
    n = mxGetN(x);
    HF_TRY(hf_net_num_layers(net, &n_layers));
    sizes = (size_t *)mxCalloc(n_layers ? n_layers : 1, sizeof *sizes);
    HF_TRY(hf_net_layer_sizes(net, sizes, n_layers));
    if (n_layers < 2 || sizes[0] != din) {
        fail(HF_ERR_SHAPE_MISMATCH,
             "inputs have %lu rows but the network has %lu inputs (one example per column)",
             (unsigned long)din, (unsigned long)(n_layers ? sizes[0] : 0));
    }
    plhs[0] = single_matrix(sizes[n_layers - 1], n, &dest);
    HF_TRY(hf_net_predict(net, to_floats(x, "inputs"), din * n, n, dest,
                          sizes[n_layers - 1] * n));
}

/* [loss, error] = net_evaluate(net, data) */
static void cmd_net_evaluate(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    double loss = 0, error = 0;
    (void)nrhs;
    HF_TRY(hf_net_evaluate((const hf_net *)arg_handle(prhs[0], "net"),
                           (const hf_data *)arg_handle(prhs[1], "data"), &loss, &error));
    plhs[0] = mxCreateDoubleScalar(loss);
    if (nlhs > 1) plhs[1] = mxCreateDoubleScalar(error);
}

/* [grad (single column), loss] = net_gradient(net, data) */
static void cmd_net_gradient(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    const hf_net *net = (const hf_net *)arg_handle(prhs[0], "net");
    const hf_data *data = (const hf_data *)arg_handle(prhs[1], "data");
    size_t p = 0;
    double loss = 0;
    float *dest;
    (void)nrhs;
    HF_TRY(hf_net_num_params(net, &p));
    plhs[0] = single_matrix(p, 1, &dest);
    HF_TRY(hf_net_gradient(net, data, dest, p, &loss));
    if (nlhs > 1) plhs[1] = mxCreateDoubleScalar(loss);
}

/* ---- config ---- */

static void cmd_config_new(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    hf_config *cfg = NULL;
    (void)nlhs, (void)nrhs, (void)prhs;
    HF_TRY(hf_config_new(&cfg));
    plhs[0] = handle_out(cfg);
}

static void cmd_config_preset(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    hf_config *cfg = NULL;
    char *name = arg_string(prhs[0], "preset");
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_config_preset(name, &cfg));
    plhs[0] = handle_out(cfg);
}

static void cmd_config_clone(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    hf_config *cfg = NULL;
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_config_clone((const hf_config *)arg_handle(prhs[0], "cfg"), &cfg));
    plhs[0] = handle_out(cfg);
}

static void cmd_config_free(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    (void)nlhs, (void)plhs, (void)nrhs;
    HF_TRY(hf_config_free((hf_config *)arg_handle(prhs[0], "cfg")));
}

/* The type of configuration key `key`; 0 if it is not a key (the caller
 * then lets the library report it, with its "did you mean" hint). */
static int key_type(const char *key, hf_key_type *type, const char **range) {
    size_t count = 0, i;
    if (hf_config_key_count(&count) != HF_OK) return 0;
    for (i = 0; i < count; i++) {
        const char *name, *def, *doc;
        if (hf_config_key_info(i, &name, type, &def, range, &doc) == HF_OK && strcmp(name, key) == 0) {
            return 1;
        }
    }
    return 0;
}

/* An integer option value: an integer-valued double (|v| <= 2^53) or an
 * int64/uint64 scalar taken exactly. */
static int64_t option_i64(const mxArray *v, const char *key) {
    double d;
    if (mxIsInt64(v)) return *(const int64_t *)mxGetData(v);
    if (mxIsUint64(v)) {
        uint64_t u = *(const uint64_t *)mxGetData(v);
        if (u > (uint64_t)INT64_MAX) fail(HF_ERR_OUT_OF_RANGE, "option '%s' = %llu is too large", key, (unsigned long long)u);
        return (int64_t)u;
    }
    d = scalar_value(v);
    if (!isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0) {
        fail(HF_ERR_WRONG_TYPE, "option '%s' takes an integer; %.17g is not one", key, d);
    }
    return (int64_t)d;
}

/* config_set(cfg, key, value): the value's MATLAB type must fit the key's
 * type (numbers for f64/i64, logical or number for bool, text for string). */
static void cmd_config_set(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    hf_config *cfg = (hf_config *)arg_handle(prhs[0], "cfg");
    char *key = arg_string(prhs[1], "key");
    const mxArray *v = prhs[2];
    hf_key_type type = HF_KEY_F64;
    const char *range = "";
    static const char *type_names[] = {"a real scalar", "an integer scalar", "a logical scalar",
                                       "a character vector"};
    (void)nlhs, (void)plhs, (void)nrhs;
    if (!key_type(key, &type, &range)) {
        /* Not a key: the library's message names it and suggests the nearest. */
        HF_TRY(hf_config_set_f64(cfg, key, 0.0));
        fail(HF_ERR_UNKNOWN_KEY, "'%s' is not an option", key);
    }
    if (type == HF_KEY_STRING ? !mxIsChar(v) : !is_real_scalar(v)) {
        fail(HF_ERR_WRONG_TYPE, "option '%s' takes %s (%s), not a %s of %llu elements", key,
             type_names[type], range, mxGetClassName(v), (unsigned long long)mxGetNumberOfElements(v));
    }
    switch (type) {
    case HF_KEY_F64:
        HF_TRY(hf_config_set_f64(cfg, key, scalar_value(v)));
        break;
    case HF_KEY_I64:
        HF_TRY(hf_config_set_i64(cfg, key, option_i64(v, key)));
        break;
    case HF_KEY_BOOL: {
        double d = scalar_value(v);
        if (!mxIsLogical(v) && d != 0 && d != 1) {
            fail(HF_ERR_WRONG_TYPE, "option '%s' takes true/false (or 1/0), not %g", key, d);
        }
        HF_TRY(hf_config_set_bool(cfg, key, d != 0));
        break;
    }
    case HF_KEY_STRING:
        HF_TRY(hf_config_set_str(cfg, key, arg_string(v, key)));
        break;
    }
}

/* config_get(cfg, key): double, logical or char by the key's type (i64
 * values beyond 2^53 come back as int64). */
static void cmd_config_get(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    const hf_config *cfg = (const hf_config *)arg_handle(prhs[0], "cfg");
    char *key = arg_string(prhs[1], "key");
    hf_key_type type = HF_KEY_F64;
    const char *range = "";
    (void)nlhs, (void)nrhs;
    if (!key_type(key, &type, &range)) {
        double ignored;
        HF_TRY(hf_config_get_f64(cfg, key, &ignored));
        fail(HF_ERR_UNKNOWN_KEY, "'%s' is not an option", key);
    }
    switch (type) {
    case HF_KEY_F64: {
        double d = 0;
        HF_TRY(hf_config_get_f64(cfg, key, &d));
        plhs[0] = mxCreateDoubleScalar(d);
        break;
    }
    case HF_KEY_I64: {
        int64_t i = 0;
        HF_TRY(hf_config_get_i64(cfg, key, &i));
        if (i > 9007199254740992LL || i < -9007199254740992LL) {
            plhs[0] = mxCreateNumericMatrix(1, 1, mxINT64_CLASS, mxREAL);
            *(int64_t *)mxGetData(plhs[0]) = i;
        } else {
            plhs[0] = mxCreateDoubleScalar((double)i);
        }
        break;
    }
    case HF_KEY_BOOL: {
        int b = 0;
        HF_TRY(hf_config_get_bool(cfg, key, &b));
        plhs[0] = mxCreateLogicalScalar(b != 0);
        break;
    }
    case HF_KEY_STRING: {
        char buf[256];
        HF_TRY(hf_config_get_str(cfg, key, buf, sizeof buf));
        plhs[0] = mxCreateString(buf);
        break;
    }
    }
}

static void cmd_config_validate(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    (void)nlhs, (void)plhs, (void)nrhs;
    HF_TRY(hf_config_validate((const hf_config *)arg_handle(prhs[0], "cfg")));
}

static void cmd_config_text(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    (void)nlhs, (void)nrhs;
    plhs[0] = text_out(config_text_fn, arg_handle(prhs[0], "cfg"), 0);
}

/* A struct array describing every key: name, type, default, range, doc. */
static void cmd_config_keys(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    static const char *fields[] = {"name", "type", "default", "range", "doc"};
    static const char *types[] = {"f64", "i64", "bool", "string"};
    size_t count = 0, i;
    (void)nlhs, (void)nrhs, (void)prhs;
    HF_TRY(hf_config_key_count(&count));
    plhs[0] = mxCreateStructMatrix(count, 1, 5, fields);
    for (i = 0; i < count; i++) {
        const char *name, *def, *range, *doc;
        hf_key_type type;
        HF_TRY(hf_config_key_info(i, &name, &type, &def, &range, &doc));
        mxSetField(plhs[0], i, "name", mxCreateString(name));
        mxSetField(plhs[0], i, "type", mxCreateString((unsigned)type < 4 ? types[type] : "?"));
        mxSetField(plhs[0], i, "default", mxCreateString(def));
        mxSetField(plhs[0], i, "range", mxCreateString(range));
        mxSetField(plhs[0], i, "doc", mxCreateString(doc));
    }
}

/* ---- session ---- */

static void cmd_session_new(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    const hf_net *net = (const hf_net *)arg_handle(prhs[0], "net");
    const hf_data *train = (const hf_data *)arg_handle(prhs[1], "train");
    const hf_data *test = nrhs > 2 ? (const hf_data *)arg_optional_handle(prhs[2], "test") : NULL;
    const hf_config *cfg = nrhs > 3 ? (const hf_config *)arg_optional_handle(prhs[3], "cfg") : NULL;
    hf_session *session = NULL;
    (void)nlhs;
    HF_TRY(hf_session_new(net, train, test, cfg, &session));
    plhs[0] = handle_out(session);
}

/* session_resume(net, train, test, cfg, path) */
static void cmd_session_resume(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    const hf_net *net = (const hf_net *)arg_handle(prhs[0], "net");
    const hf_data *train = (const hf_data *)arg_handle(prhs[1], "train");
    const hf_data *test = (const hf_data *)arg_optional_handle(prhs[2], "test");
    const hf_config *cfg = (const hf_config *)arg_optional_handle(prhs[3], "cfg");
    char *path = arg_string(prhs[4], "path");
    hf_session *session = NULL;
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_session_resume(net, train, test, cfg, path, &session));
    plhs[0] = handle_out(session);
}

static void cmd_session_free(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    (void)nlhs, (void)plhs, (void)nrhs;
    HF_TRY(hf_session_free((hf_session *)arg_handle(prhs[0], "session")));
}

static void cmd_session_step(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    hf_iteration_report report;
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_session_step((hf_session *)arg_handle(prhs[0], "session"), &report));
    plhs[0] = report_struct(&report);
}

/* What the progress callback shares with the gateway frame that started
 * the run. */
typedef struct {
    const mxArray *callback; /* the function handle */
    int failed;              /* the user's code raised an error */
    char identifier[256];    /* its identifier ("" if none) */
    char message[4096];      /* its message */
} progress_context;

/* Copies the text field or property `name` of an error object into `dest`:
 * an MException (MATLAB) or the struct Octave's mexCallMATLABWithTrap
 * returns. */
static void exception_text(const mxArray *ex, const char *name, char *dest, size_t len) {
    const mxArray *p = mxIsStruct(ex) ? mxGetField(ex, 0, name) : mxGetProperty(ex, 0, name);
    dest[0] = '\0';
    if (p != NULL && mxIsChar(p)) mxGetString(p, dest, (mwSize)len);
}

/* Copies a char array into `dest` ("" if it is not one). */
static void char_text(const mxArray *a, char *dest, size_t len) {
    dest[0] = '\0';
    if (a != NULL && mxIsChar(a)) mxGetString(a, dest, (mwSize)len);
}

/* The C progress callback. It calls the function handle with the report
 * struct through hessfree.invoke_callback_, which catches an error in user
 * code and returns its identifier and message (Octave's
 * mexCallMATLABWithTrap says only that a call failed, not why). The call
 * itself goes through mexCallMATLABWithTrap, so that anything else that
 * fails (e.g. the helper missing from the path) also comes back here
 * instead of unwinding through the library. On error it records the
 * identifier and message and asks the run to stop. */
static int progress_trampoline(void *user, const hf_iteration_report *r) {
    progress_context *ctx = (progress_context *)user;
    mxArray *args[3];
    mxArray *out[3] = {NULL, NULL, NULL};
    mxArray *ex;
    int i;
    args[0] = mxCreateString("hessfree.invoke_callback_");
    args[1] = (mxArray *)ctx->callback;
    args[2] = report_struct(r);
    ex = mexCallMATLABWithTrap(3, out, 3, args, "feval");
    mxDestroyArray(args[0]);
    mxDestroyArray(args[2]);
    if (ex != NULL) {
        exception_text(ex, "identifier", ctx->identifier, sizeof ctx->identifier);
        exception_text(ex, "message", ctx->message, sizeof ctx->message);
        mxDestroyArray(ex);
        ctx->failed = 1;
    } else if (out[0] != NULL && mxIsLogicalScalarTrue(out[0])) {
        char_text(out[1], ctx->identifier, sizeof ctx->identifier);
        char_text(out[2], ctx->message, sizeof ctx->message);
        ctx->failed = 1;
    }
    for (i = 0; i < 3; i++) {
        if (out[i] != NULL) mxDestroyArray(out[i]);
    }
    if (!ctx->failed) return 0;
    if (ctx->message[0] == '\0') snprintf(ctx->message, sizeof ctx->message, "(no message)");
    return 1;
}

/* Raises the callback's error again, now that the library has returned:
 * error(struct('message', ..., 'identifier', ...)) keeps the user's text
 * exactly (mexErrMsgIdAndTxt would prefix the MEX name in Octave). An
 * error without identifier gets "hessfree:callback". Does not return. */
static void raise_callback_error(const progress_context *ctx) {
    static const char *fields[] = {"message", "identifier"};
    mxArray *err = mxCreateStructMatrix(1, 1, 2, fields);
    const char *id = strchr(ctx->identifier, ':') ? ctx->identifier : "hessfree:callback";
    mxSetField(err, 0, "message", mxCreateString(ctx->message));
    mxSetField(err, 0, "identifier", mxCreateString(id));
    mexCallMATLAB(0, NULL, 1, &err, "error");
    /* Not reached: error() always raises. Fall back all the same. */
    mexErrMsgIdAndTxt(id, "%s", ctx->message);
}

/* summary = session_run(session, callback or []) */
static void cmd_session_run(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    hf_session *session = (hf_session *)arg_handle(prhs[0], "session");
    const mxArray *callback = nrhs > 1 && !mxIsEmpty(prhs[1]) ? prhs[1] : NULL;
    progress_context *ctx;
    hf_summary summary;
    hf_status st;
    (void)nlhs;
    if (callback != NULL && !mxIsClass(callback, "function_handle")) {
        fail(HF_ERR_WRONG_TYPE, "argument 'callback' must be a function handle or [] (got a %s)",
             mxGetClassName(callback));
    }
    ctx = (progress_context *)mxCalloc(1, sizeof *ctx);
    ctx->callback = callback;
    st = hf_session_run(session, callback ? progress_trampoline : NULL, ctx, &summary);
    if (ctx->failed) raise_callback_error(ctx);
    if (st != HF_OK) fail_status(st);
    plhs[0] = summary_struct(&summary);
}

static void cmd_session_request_stop(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    (void)nlhs, (void)plhs, (void)nrhs;
    HF_TRY(hf_session_request_stop((const hf_session *)arg_handle(prhs[0], "session")));
}

static void cmd_session_params(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    const hf_session *session = (const hf_session *)arg_handle(prhs[0], "session");
    size_t p = 0;
    float *dest;
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_session_num_params(session, &p));
    plhs[0] = single_matrix(p, 1, &dest);
    HF_TRY(hf_session_get_params(session, dest, p));
}

static void cmd_session_net(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    hf_net *net = NULL;
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_session_copy_net((const hf_session *)arg_handle(prhs[0], "session"), &net));
    plhs[0] = handle_out(net);
}

static void cmd_session_iteration(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    uint64_t it = 0;
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_session_iteration((const hf_session *)arg_handle(prhs[0], "session"), &it));
    plhs[0] = mxCreateDoubleScalar((double)it);
}

static void cmd_session_lambda(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    double lambda = 0;
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_session_lambda((const hf_session *)arg_handle(prhs[0], "session"), &lambda));
    plhs[0] = mxCreateDoubleScalar(lambda);
}

static void cmd_session_save(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    const hf_session *session = (const hf_session *)arg_handle(prhs[0], "session");
    char *path = arg_string(prhs[1], "path");
    (void)nlhs, (void)plhs, (void)nrhs;
    HF_TRY(hf_session_save(session, path));
}

static void cmd_session_set_config(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    hf_session *session = (hf_session *)arg_handle(prhs[0], "session");
    const hf_config *cfg = (const hf_config *)arg_handle(prhs[1], "cfg");
    (void)nlhs, (void)plhs, (void)nrhs;
    HF_TRY(hf_session_set_config(session, cfg));
}

static void cmd_session_get_config(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    hf_config *cfg = NULL;
    (void)nlhs, (void)nrhs;
    HF_TRY(hf_session_get_config((const hf_session *)arg_handle(prhs[0], "session"), &cfg));
    plhs[0] = handle_out(cfg);
}

static void cmd_session_backend(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    (void)nlhs, (void)nrhs;
    plhs[0] = text_out(backend_fn, arg_handle(prhs[0], "session"), 0);
}

/* session_summary_text(session, full) */
static void cmd_session_summary_text(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    const void *session = arg_handle(prhs[0], "session");
    int full = nrhs > 1 ? arg_double(prhs[1], "full") != 0 : 0;
    (void)nlhs;
    plhs[0] = text_out(summary_text_fn, session, full);
}

static void cmd_session_report_text(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    (void)nlhs, (void)nrhs;
    plhs[0] = text_out(report_text_fn, arg_handle(prhs[0], "session"), 0);
}

/* ------------------------------------------------------------------------
 * Dispatch
 * ------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    command_fn fn;
    int min_in, max_in; /* arguments after the command string */
    int max_out;
    const char *usage;
} command;

static void cmd_help(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]);

static const command COMMANDS[] = {
    {"help", cmd_help, 0, 0, 1, "text = help()"},
    {"version", cmd_version, 0, 0, 1, "v = version()"},
    {"status_str", cmd_status_str, 1, 1, 1, "name = status_str(code)"},
    {"data_new", cmd_data_new, 1, 2, 1, "h = data_new(X) | data_new(X, Y)  (D x N, double/single)"},
    {"data_curves", cmd_data_curves, 2, 2, 1, "h = data_curves(n, seed)"},
    {"data_mnist", cmd_data_mnist, 1, 1, 2, "[train, test] = data_mnist(dir)"},
    {"data_faces", cmd_data_faces, 3, 3, 2, "[train, test] = data_faces(olivetti_npy, per_image, seed)"},
    {"data_preset", cmd_data_preset, 3, 3, 2, "[train, test] = data_preset(name, data_dir, seed)"},
    {"data_free", cmd_data_free, 1, 1, 0, "data_free(h)"},
    {"data_size", cmd_data_size, 1, 1, 3, "[n, input_dim, target_dim] = data_size(h)"},
    {"data_inputs", cmd_data_inputs, 1, 1, 1, "X = data_inputs(h)  (single, D x N)"},
    {"data_targets", cmd_data_targets, 1, 1, 1, "Y = data_targets(h)  (single, D x N)"},
    {"net_new", cmd_net_new, 3, 3, 1, "h = net_new(sizes, activations, seed)"},
    {"net_new_autoencoder", cmd_net_new_autoencoder, 3, 3, 1,
     "h = net_new_autoencoder(encoder_sizes, output_activation, seed)"},
    {"net_new_preset", cmd_net_new_preset, 2, 2, 1, "h = net_new_preset(name, seed)"},
    {"net_load", cmd_net_load, 1, 1, 1, "h = net_load(path)"},
    {"net_save", cmd_net_save, 2, 2, 0, "net_save(h, path)"},
    {"net_clone", cmd_net_clone, 1, 1, 1, "h2 = net_clone(h)"},
    {"net_free", cmd_net_free, 1, 1, 0, "net_free(h)"},
    {"net_num_params", cmd_net_num_params, 1, 1, 1, "p = net_num_params(h)"},
    {"net_layers", cmd_net_layers, 1, 1, 2, "[sizes, activations] = net_layers(h)"},
    {"net_describe", cmd_net_describe, 1, 1, 1, "text = net_describe(h)"},
    {"net_params", cmd_net_params, 1, 1, 1, "theta = net_params(h)  (single column)"},
    {"net_set_params", cmd_net_set_params, 2, 2, 0, "net_set_params(h, theta)"},
    {"net_predict", cmd_net_predict, 2, 2, 1, "Y = net_predict(h, X)  (X: Din x N; Y single)"},
    {"net_evaluate", cmd_net_evaluate, 2, 2, 2, "[loss, error] = net_evaluate(h, data)"},
    {"net_gradient", cmd_net_gradient, 2, 2, 2, "[grad, loss] = net_gradient(h, data)"},
    {"config_new", cmd_config_new, 0, 0, 1, "h = config_new()"},
    {"config_preset", cmd_config_preset, 1, 1, 1, "h = config_preset(name)"},
    {"config_clone", cmd_config_clone, 1, 1, 1, "h2 = config_clone(h)"},
    {"config_free", cmd_config_free, 1, 1, 0, "config_free(h)"},
    {"config_set", cmd_config_set, 3, 3, 0, "config_set(h, key, value)"},
    {"config_get", cmd_config_get, 2, 2, 1, "value = config_get(h, key)"},
    {"config_validate", cmd_config_validate, 1, 1, 0, "config_validate(h)"},
    {"config_text", cmd_config_text, 1, 1, 1, "text = config_text(h)"},
    {"config_keys", cmd_config_keys, 0, 0, 1, "keys = config_keys()  (struct array)"},
    {"session_new", cmd_session_new, 2, 4, 1, "h = session_new(net, train, test or [], cfg or [])"},
    {"session_resume", cmd_session_resume, 5, 5, 1,
     "h = session_resume(net, train, test or [], cfg or [], path)"},
    {"session_free", cmd_session_free, 1, 1, 0, "session_free(h)"},
    {"session_step", cmd_session_step, 1, 1, 1, "report = session_step(h)"},
    {"session_run", cmd_session_run, 1, 2, 1, "summary = session_run(h, callback or [])"},
    {"session_request_stop", cmd_session_request_stop, 1, 1, 0, "session_request_stop(h)"},
    {"session_params", cmd_session_params, 1, 1, 1, "theta = session_params(h)"},
    {"session_net", cmd_session_net, 1, 1, 1, "net = session_net(h)"},
    {"session_iteration", cmd_session_iteration, 1, 1, 1, "k = session_iteration(h)"},
    {"session_lambda", cmd_session_lambda, 1, 1, 1, "lambda = session_lambda(h)"},
    {"session_save", cmd_session_save, 2, 2, 0, "session_save(h, path)"},
    {"session_set_config", cmd_session_set_config, 2, 2, 0, "session_set_config(h, cfg)"},
    {"session_get_config", cmd_session_get_config, 1, 1, 1, "cfg = session_get_config(h)"},
    {"session_backend", cmd_session_backend, 1, 1, 1, "text = session_backend(h)"},
    {"session_summary_text", cmd_session_summary_text, 1, 2, 1, "text = session_summary_text(h, full)"},
    {"session_report_text", cmd_session_report_text, 1, 1, 1, "text = session_report_text(h)"},
};

enum { N_COMMANDS = sizeof COMMANDS / sizeof *COMMANDS };

static void cmd_help(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    size_t len = 1, i;
    char *text;
    (void)nlhs, (void)nrhs, (void)prhs;
    for (i = 0; i < N_COMMANDS; i++) len += strlen(COMMANDS[i].usage) + 40;
    text = (char *)mxCalloc(len, 1);
    for (i = 0; i < N_COMMANDS; i++) {
        size_t used = strlen(text);
        snprintf(text + used, len - used, "%-22s %s\n", COMMANDS[i].name, COMMANDS[i].usage);
    }
    plhs[0] = mxCreateString(text);
}

void mexFunction(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    static int locked = 0;
    char *name;
    size_t i;
    if (!locked) {
        mexLock();
        locked = 1;
    }
    g_command = "";
    if (nrhs < 1 || !mxIsChar(prhs[0]) || (name = mxArrayToString(prhs[0])) == NULL) {
        fail(HF_ERR_INVALID_ARGUMENT,
             "the first argument must be a command name (see hessfree_mex('help'))");
        return;
    }
    for (i = 0; i < N_COMMANDS; i++) {
        const command *c = &COMMANDS[i];
        if (strcmp(c->name, name) != 0) continue;
        g_command = c->name;
        if (nrhs - 1 < c->min_in || nrhs - 1 > c->max_in) {
            fail(HF_ERR_INVALID_ARGUMENT, "takes %d to %d arguments, got %d; usage: %s", c->min_in,
                 c->max_in, nrhs - 1, c->usage);
        }
        if (nlhs > (c->max_out > 0 ? c->max_out : 1)) {
            fail(HF_ERR_INVALID_ARGUMENT, "returns at most %d outputs; usage: %s", c->max_out,
                 c->usage);
        }
        c->fn(nlhs, plhs, nrhs - 1, prhs + 1);
        /* A callback may have re-entered the gateway meanwhile. */
        g_command = "";
        return;
    }
    fail(HF_ERR_INVALID_ARGUMENT, "unknown command '%s' (see hessfree_mex('help'))", name);
}
