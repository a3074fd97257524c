/*
 * C host test of hf_config: reference defaults, typed setters and getters,
 * key=value text, key enumeration, presets, and every kind of bad argument
 * (NULL in each pointer slot, unknown keys, wrong types, out-of-range values,
 * too-small buffers, wrong-kind, forged and freed handles). Each failing call
 * must return its documented status with a message naming the problem, write
 * no out-parameter, and leave the configuration unchanged and usable.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static void test_defaults_and_typed_access(void) {
    hf_config *cfg = NULL;
    double f = 0;
    int64_t i = 0;
    int b = -1;
    char s[32];

    CHECK_OK(hf_config_new(&cfg));
    CHECK(cfg != NULL);
    CHECK_OK(hf_config_get_f64(cfg, "initial_lambda", &f));
    CHECK(f == 45.0);
    CHECK_OK(hf_config_get_f64(cfg, "precond_exponent", &f));
    CHECK(f == 0.75);
    CHECK_OK(hf_config_get_f64(cfg, "target_error", &f));
    CHECK(isnan(f));
    CHECK_OK(hf_config_get_i64(cfg, "cg_max_iters", &i));
    CHECK(i == 250);
    CHECK_OK(hf_config_get_bool(cfg, "backtrack", &b));
    CHECK(b == 1);
    CHECK_OK(hf_config_get_str(cfg, "curvature", s, sizeof s));
    CHECK_STR(s, "gauss_newton");

    CHECK_OK(hf_config_set_f64(cfg, "initial_lambda", 1.5));
    CHECK_OK(hf_config_set_i64(cfg, "cg_max_iters", 40));
    CHECK_OK(hf_config_set_bool(cfg, "backtrack", 0));
    CHECK_OK(hf_config_set_bool(cfg, "line_search", 7)); /* nonzero = true */
    CHECK_OK(hf_config_set_str(cfg, "chunk_order", "random"));
    CHECK_OK(hf_config_set_f64(cfg, "target_error", NAN)); /* NaN = unset is allowed here */
    CHECK_OK(hf_config_set_f64(cfg, "lambda_max", INFINITY));
    CHECK_OK(hf_config_get_f64(cfg, "initial_lambda", &f));
    CHECK(f == 1.5);
    CHECK_OK(hf_config_get_i64(cfg, "cg_max_iters", &i));
    CHECK(i == 40);
    CHECK_OK(hf_config_get_bool(cfg, "backtrack", &b));
    CHECK(b == 0);
    CHECK_OK(hf_config_get_bool(cfg, "line_search", &b));
    CHECK(b == 1);
    CHECK_OK(hf_config_get_str(cfg, "chunk_order", s, sizeof s));
    CHECK_STR(s, "random");

    /* key=value text. */
    CHECK_OK(hf_config_set_from_string(cfg, "cg_max_iters=12"));
    CHECK_OK(hf_config_set_from_string(cfg, " weight_cost = 1e-4 "));
    CHECK_OK(hf_config_set_from_string(cfg, "backtrack=on"));
    CHECK_OK(hf_config_get_i64(cfg, "cg_max_iters", &i));
    CHECK(i == 12);
    CHECK_OK(hf_config_get_f64(cfg, "weight_cost", &f));
    CHECK(f == 1e-4);
    CHECK_OK(hf_config_get_bool(cfg, "backtrack", &b));
    CHECK(b == 1);
    CHECK_OK(hf_config_validate(cfg));
    CHECK_OK(hf_config_free(cfg));
}

static void test_clone_preset_and_text(void) {
    hf_config *a = NULL, *b = NULL, *p = NULL;
    int64_t i = 0;
    double f = 0;
    char text[4096];
    char tiny[8];

    CHECK_OK(hf_config_new(&a));
    CHECK_OK(hf_config_clone(a, &b));
    CHECK(a != b);
    CHECK_OK(hf_config_set_i64(a, "max_iters", 3));
    CHECK_OK(hf_config_get_i64(b, "max_iters", &i));
    CHECK(i == 300); /* the clone is independent */

    CHECK_OK(hf_config_preset("MNIST", &p));
    CHECK_OK(hf_config_get_i64(p, "chunk_size", &i));
    CHECK(i == 7500);
    CHECK_OK(hf_config_get_f64(p, "weight_cost", &f));
    CHECK(f == 2e-5);
    CHECK_OK(hf_config_free(p));
    p = (hf_config *)(uintptr_t)0x5eed;
    CHECK_ERR(hf_config_preset("cifar", &p), HF_ERR_INVALID_ARGUMENT,
              "hf_config_preset: unknown preset 'cifar' (choose curves, mnist or faces)");
    CHECK_ERR(hf_config_preset(NULL, &p), HF_ERR_NULL_POINTER, "argument 'name' is NULL");
    CHECK_ERR(hf_config_preset("curves", NULL), HF_ERR_NULL_POINTER, "argument 'out' is NULL");
    CHECK(p == (hf_config *)(uintptr_t)0x5eed);

    CHECK_OK(hf_config_to_text(a, text, sizeof text));
    CHECK(strstr(text, "initial_lambda=45.0\n") != NULL);
    CHECK(strstr(text, "max_iters=3\n") != NULL);
    memset(tiny, 'x', sizeof tiny);
    CHECK_ERR(hf_config_to_text(a, tiny, sizeof tiny), HF_ERR_BUFFER_TOO_SMALL,
              "buffer 'buf' holds 8 bytes, the text needs");
    CHECK(tiny[0] == 'x'); /* nothing written */
    CHECK_ERR(hf_config_to_text(a, NULL, 0), HF_ERR_BUFFER_TOO_SMALL, "holds 0 bytes");
    CHECK_ERR(hf_config_to_text(a, NULL, 100), HF_ERR_BUFFER_TOO_SMALL, NULL);

    CHECK_OK(hf_config_free(a));
    CHECK_OK(hf_config_free(b));
}

/* Every key described by hf_config_key_info can be read with the getter of
 * its type, and its default text is accepted by hf_config_set_from_string. */
static void test_key_enumeration(void) {
    hf_config *cfg = NULL;
    size_t count = 0, k;
    int all_ok = 1;
    const char *name = NULL, *def = NULL, *range = NULL, *doc = NULL;
    hf_key_type type = HF_KEY_F64;

    CHECK_OK(hf_config_new(&cfg));
    CHECK_OK(hf_config_key_count(&count));
    CHECK(count >= 30);
    for (k = 0; k < count; k++) {
        char line[512], s[64];
        double f;
        int64_t i;
        int b;
        hf_status st;
        if (hf_config_key_info(k, &name, &type, &def, &range, &doc) != HF_OK) {
            all_ok = 0;
            continue;
        }
        if (!name[0] || !def[0] || !range[0] || !doc[0]) all_ok = 0;
        switch (type) {
        case HF_KEY_F64: st = hf_config_get_f64(cfg, name, &f); break;
        case HF_KEY_I64: st = hf_config_get_i64(cfg, name, &i); break;
        case HF_KEY_BOOL: st = hf_config_get_bool(cfg, name, &b); break;
        case HF_KEY_STRING: st = hf_config_get_str(cfg, name, s, sizeof s); break;
        default: st = HF_ERR_INTERNAL; break;
        }
        snprintf(line, sizeof line, "%s=%s", name, def);
        if (st != HF_OK || hf_config_set_from_string(cfg, line) != HF_OK) {
            printf("key %s (%s): %s\n", name, def, last_error());
            all_ok = 0;
        }
    }
    CHECK(all_ok);
    CHECK_OK(hf_config_key_info(0, &name, &type, &def, &range, &doc));
    CHECK_STR(name, "initial_lambda");
    CHECK(type == HF_KEY_F64);
    CHECK_STR(def, "45.0");
    CHECK_STR(range, "[0, inf)");

    name = "unchanged";
    CHECK_ERR(hf_config_key_info(count, &name, &type, &def, &range, &doc), HF_ERR_OUT_OF_RANGE,
              "key index");
    CHECK_ERR(hf_config_key_info(SIZE_MAX, &name, &type, &def, &range, &doc),
              HF_ERR_OUT_OF_RANGE, "is out of range");
    CHECK_ERR(hf_config_key_info(0, NULL, &type, &def, &range, &doc), HF_ERR_NULL_POINTER,
              "'name'");
    CHECK_ERR(hf_config_key_info(0, &name, NULL, &def, &range, &doc), HF_ERR_NULL_POINTER,
              "'key_type'");
    CHECK_ERR(hf_config_key_info(0, &name, &type, NULL, &range, &doc), HF_ERR_NULL_POINTER,
              "'default_value'");
    CHECK_ERR(hf_config_key_info(0, &name, &type, &def, NULL, &doc), HF_ERR_NULL_POINTER,
              "'range'");
    CHECK_ERR(hf_config_key_info(0, &name, &type, &def, &range, NULL), HF_ERR_NULL_POINTER,
              "'doc'");
    CHECK_STR(name, "unchanged");
    CHECK_ERR(hf_config_key_count(NULL), HF_ERR_NULL_POINTER, "'count'");
    CHECK_OK(hf_config_free(cfg));
}

static void test_bad_values(hf_config *cfg) {
    double f = -1;
    int64_t i = -1;
    int b = -1;
    char s[32] = "unchanged";

    /* Unknown keys, with the nearest key suggested. */
    CHECK_ERR(hf_config_set_f64(cfg, "inital_lambda", 1.0), HF_ERR_UNKNOWN_KEY,
              "hf_config_set_f64: unknown configuration key 'inital_lambda' (did you mean "
              "'initial_lambda'?)");
    CHECK_ERR(hf_config_set_i64(cfg, "cg_max_iter", 1), HF_ERR_UNKNOWN_KEY,
              "did you mean 'cg_max_iters'?");
    CHECK_ERR(hf_config_set_bool(cfg, "", 1), HF_ERR_UNKNOWN_KEY, "unknown configuration key ''");
    CHECK_ERR(hf_config_set_str(cfg, "curvatur", "hessian"), HF_ERR_UNKNOWN_KEY, "'curvature'");
    CHECK_ERR(hf_config_get_f64(cfg, "lambda", &f), HF_ERR_UNKNOWN_KEY, "did you mean");
    CHECK_ERR(hf_config_get_str(cfg, "nope", s, sizeof s), HF_ERR_UNKNOWN_KEY, "'nope'");
    CHECK_ERR(hf_config_set_from_string(cfg, "lamda=3"), HF_ERR_UNKNOWN_KEY, "'lamda'");

    /* Wrong types. */
    CHECK_ERR(hf_config_set_i64(cfg, "initial_lambda", 1), HF_ERR_WRONG_TYPE,
              "configuration key 'initial_lambda' has type f64, not i64");
    CHECK_ERR(hf_config_set_f64(cfg, "cg_max_iters", 10.0), HF_ERR_WRONG_TYPE,
              "'cg_max_iters' has type i64, not f64");
    CHECK_ERR(hf_config_set_str(cfg, "backtrack", "true"), HF_ERR_WRONG_TYPE,
              "has type bool, not string");
    CHECK_ERR(hf_config_set_bool(cfg, "curvature", 1), HF_ERR_WRONG_TYPE, "type string");
    CHECK_ERR(hf_config_get_i64(cfg, "backtrack", &i), HF_ERR_WRONG_TYPE, "type bool");
    CHECK_ERR(hf_config_get_bool(cfg, "seed", &b), HF_ERR_WRONG_TYPE, "type i64");
    CHECK_ERR(hf_config_get_str(cfg, "ls_c", s, sizeof s), HF_ERR_WRONG_TYPE, "type f64");
    CHECK_ERR(hf_config_get_f64(cfg, "chunk_order", &f), HF_ERR_WRONG_TYPE, "type string");
    CHECK_ERR(hf_config_set_from_string(cfg, "cg_max_iters=ten"), HF_ERR_WRONG_TYPE,
              "'cg_max_iters' needs a i64 value, got 'ten'");
    CHECK_ERR(hf_config_set_from_string(cfg, "backtrack=maybe"), HF_ERR_WRONG_TYPE, "bool");
    CHECK_ERR(hf_config_set_from_string(cfg, "cg_max_iters"), HF_ERR_INVALID_ARGUMENT,
              "expected key=value, got 'cg_max_iters'");

    /* Out-of-range values, with the valid range. */
    CHECK_ERR(hf_config_set_f64(cfg, "initial_lambda", -1.0), HF_ERR_OUT_OF_RANGE,
              "value -1.0 for configuration key 'initial_lambda' is out of range: valid is [0, "
              "inf)");
    CHECK_ERR(hf_config_set_f64(cfg, "initial_lambda", NAN), HF_ERR_OUT_OF_RANGE, "[0, inf)");
    CHECK_ERR(hf_config_set_f64(cfg, "initial_lambda", INFINITY), HF_ERR_OUT_OF_RANGE,
              "valid is [0, inf)");
    CHECK_ERR(hf_config_set_f64(cfg, "ls_shrink", 1.0), HF_ERR_OUT_OF_RANGE, "valid is (0, 1)");
    CHECK_ERR(hf_config_set_i64(cfg, "cg_max_iters", 0), HF_ERR_OUT_OF_RANGE,
              "valid is [1, 1000000]");
    CHECK_ERR(hf_config_set_i64(cfg, "threads", -1), HF_ERR_OUT_OF_RANGE, "[0, 4096]");
    CHECK_ERR(hf_config_set_i64(cfg, "chunk_size", INT64_MIN), HF_ERR_OUT_OF_RANGE, "chunk_size");
    CHECK_ERR(hf_config_set_str(cfg, "curvature", "newton"), HF_ERR_OUT_OF_RANGE,
              "one of gauss_newton, hessian, empirical_fisher");
    CHECK_ERR(hf_config_set_str(cfg, "backend", "tpu"), HF_ERR_OUT_OF_RANGE,
              "one of auto, cpu, cuda");
    CHECK_ERR(hf_config_set_from_string(cfg, "cg_decay=2"), HF_ERR_OUT_OF_RANGE, "[0, 1]");

    /* Cross-key rules are checked by validate (and by sessions). */
    CHECK_OK(hf_config_set_f64(cfg, "rho_low", 0.9));
    CHECK_ERR(hf_config_validate(cfg), HF_ERR_OUT_OF_RANGE,
              "rho_low (0.9) must not exceed rho_high (0.75)");
    CHECK_OK(hf_config_set_f64(cfg, "rho_low", 0.25));
    CHECK_OK(hf_config_validate(cfg));

    /* NULL in each pointer slot. */
    CHECK_ERR(hf_config_new(NULL), HF_ERR_NULL_POINTER, "hf_config_new: argument 'out' is NULL");
    CHECK_ERR(hf_config_clone(cfg, NULL), HF_ERR_NULL_POINTER, "'out'");
    CHECK_ERR(hf_config_clone(NULL, NULL), HF_ERR_NULL_POINTER, NULL);
    CHECK_ERR(hf_config_set_f64(NULL, "seed", 1), HF_ERR_NULL_POINTER, "argument 'cfg' is NULL");
    CHECK_ERR(hf_config_set_f64(cfg, NULL, 1), HF_ERR_NULL_POINTER, "argument 'key' is NULL");
    CHECK_ERR(hf_config_set_i64(cfg, NULL, 1), HF_ERR_NULL_POINTER, "'key'");
    CHECK_ERR(hf_config_set_bool(NULL, "backtrack", 1), HF_ERR_NULL_POINTER, "'cfg'");
    CHECK_ERR(hf_config_set_str(cfg, "curvature", NULL), HF_ERR_NULL_POINTER,
              "argument 'value' is NULL");
    CHECK_ERR(hf_config_set_str(cfg, NULL, "hessian"), HF_ERR_NULL_POINTER, "'key'");
    CHECK_ERR(hf_config_set_from_string(cfg, NULL), HF_ERR_NULL_POINTER, "'assignment'");
    CHECK_ERR(hf_config_get_f64(cfg, "ls_c", NULL), HF_ERR_NULL_POINTER,
              "argument 'value' is NULL");
    CHECK_ERR(hf_config_get_i64(cfg, "seed", NULL), HF_ERR_NULL_POINTER, "'value'");
    CHECK_ERR(hf_config_get_bool(cfg, "tf32", NULL), HF_ERR_NULL_POINTER, "'value'");
    CHECK_ERR(hf_config_get_str(cfg, "backend", NULL, 32), HF_ERR_NULL_POINTER, "'buf'");
    CHECK_ERR(hf_config_get_f64(NULL, "ls_c", &f), HF_ERR_NULL_POINTER, "'cfg'");
    CHECK_ERR(hf_config_validate(NULL), HF_ERR_NULL_POINTER, "'cfg'");
    CHECK_ERR(hf_config_to_text(NULL, s, sizeof s), HF_ERR_NULL_POINTER, "'cfg'");

    /* Too-small buffer: nothing written, the size needed is named. */
    CHECK_ERR(hf_config_get_str(cfg, "curvature", s, 12), HF_ERR_BUFFER_TOO_SMALL,
              "buffer 'buf' holds 12 bytes, the text needs 13 (including the NUL)");
    CHECK_STR(s, "unchanged");
    CHECK_ERR(hf_config_get_str(cfg, "curvature", NULL, 0), HF_ERR_BUFFER_TOO_SMALL, "needs 13");

    /* Nothing above changed the configuration or wrote an out-parameter. */
    CHECK(f == -1 && i == -1 && b == -1);
    CHECK_OK(hf_config_get_f64(cfg, "initial_lambda", &f));
    CHECK(f == 45.0);
    CHECK_OK(hf_config_get_i64(cfg, "cg_max_iters", &i));
    CHECK(i == 250);
    CHECK_OK(hf_config_get_str(cfg, "curvature", s, sizeof s));
    CHECK_STR(s, "gauss_newton");
}

static void test_handles(hf_config *keep) {
    hf_config *cfg = NULL;
    hf_data *data = NULL;
    const float x[4] = {1, 2, 3, 4};
    double f = -1;
    hf_config *forged = (hf_config *)(uintptr_t)0x4321;

    /* A data set passed where a config is expected. */
    CHECK_OK(hf_data_new_autoencoder(2, 2, x, 4, &data));
    CHECK_ERR(hf_config_get_f64((const hf_config *)data, "ls_c", &f), HF_ERR_INVALID_HANDLE,
              "argument 'cfg' is a hf_data handle, expected hf_config");
    CHECK_ERR(hf_config_free((hf_config *)data), HF_ERR_INVALID_HANDLE, "expected hf_config");
    CHECK_ERR(hf_config_clone((const hf_config *)data, &cfg), HF_ERR_INVALID_HANDLE, "hf_data");
    /* ... and a config where a data set is expected. */
    {
        size_t n, di, dt;
        CHECK_ERR(hf_data_size((const hf_data *)keep, &n, &di, &dt), HF_ERR_INVALID_HANDLE,
                  "argument 'data' is a hf_config handle, expected hf_data");
    }
    CHECK_OK(hf_data_free(data)); /* the failed free did not free it */

    /* Forged, freed, double free. */
    CHECK_ERR(hf_config_set_f64(forged, "ls_c", 0.1), HF_ERR_INVALID_HANDLE, "never created");
    CHECK_OK(hf_config_new(&cfg));
    CHECK_OK(hf_config_free(cfg));
    CHECK_ERR(hf_config_set_f64(cfg, "ls_c", 0.1), HF_ERR_INVALID_HANDLE,
              "argument 'cfg' is a hf_config handle that has already been freed");
    CHECK_ERR(hf_config_get_f64(cfg, "ls_c", &f), HF_ERR_INVALID_HANDLE, "already been freed");
    CHECK_OK(hf_config_free(cfg));
    CHECK_OK(hf_config_free(NULL));
    CHECK(f == -1);

    /* The unrelated config still works. */
    CHECK_OK(hf_config_get_f64(keep, "ls_c", &f));
    CHECK(f == 1e-2);
}

int main(void) {
    hf_config *keep = NULL;
    test_defaults_and_typed_access();
    test_clone_preset_and_text();
    test_key_enumeration();
    CHECK_OK(hf_config_new(&keep));
    test_bad_values(keep);
    test_handles(keep);
    CHECK_OK(hf_config_free(keep));
    return check_summary("test_config");
}
