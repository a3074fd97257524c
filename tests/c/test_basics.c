/*
 * C host test of the basic API: version, status names, the per-thread last
 * error, and hf_data with every kind of bad argument. Every failing call must
 * return its documented status with a message naming the problem, write no
 * out-parameter, and leave the process and other objects usable.
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

/* A value no successful call would write: out-params must keep it on failure. */
#define SENTINEL ((hf_data *)(uintptr_t)0x5eed)

static void test_version(void) {
    int major = -1, minor = -1, patch = -1;
    char expect[64];
    CHECK_STR(hf_version(), HF_VERSION_STRING);
    CHECK_OK(hf_version_numbers(&major, &minor, &patch));
    CHECK(major == HF_VERSION_MAJOR && minor == HF_VERSION_MINOR && patch == HF_VERSION_PATCH);
    snprintf(expect, sizeof expect, "%d.%d.%d", major, minor, patch);
    CHECK(strncmp(hf_version(), expect, strlen(expect)) == 0);

    major = minor = patch = -7;
    CHECK_ERR(hf_version_numbers(NULL, &minor, &patch), HF_ERR_NULL_POINTER,
              "hf_version_numbers: argument 'major' is NULL");
    CHECK_ERR(hf_version_numbers(&major, NULL, &patch), HF_ERR_NULL_POINTER, "'minor'");
    CHECK_ERR(hf_version_numbers(&major, &minor, NULL), HF_ERR_NULL_POINTER, "'patch'");
    CHECK(major == -7 && minor == -7 && patch == -7); /* nothing written on failure */
}

static void test_status_names(void) {
    int code;
    CHECK_STR(hf_status_str(HF_OK), "HF_OK");
    CHECK_STR(hf_status_str(HF_ERR_NULL_POINTER), "HF_ERR_NULL_POINTER");
    CHECK_STR(hf_status_str(HF_ERR_NON_FINITE), "HF_ERR_NON_FINITE");
    CHECK_STR(hf_status_str(HF_ERR_PANIC), "HF_ERR_PANIC");
    CHECK_STR(hf_status_str(HF_ERR_INTERNAL), "HF_ERR_INTERNAL");
    CHECK(HF_OK == 0 && HF_ERR_INVALID_HANDLE == 3 && HF_ERR_BUFFER_TOO_SMALL == 18 &&
          HF_ERR_INTERNAL == 20);
    for (code = 1; code <= HF_ERR_INTERNAL; code++) {
        CHECK(strncmp(hf_status_str(code), "HF_ERR_", 7) == 0);
    }
    CHECK_STR(hf_status_str(-1), "HF_ERR_UNKNOWN_STATUS");
    CHECK_STR(hf_status_str(HF_ERR_INTERNAL + 1), "HF_ERR_UNKNOWN_STATUS");
    CHECK_STR(hf_status_str(INT_MAX), "HF_ERR_UNKNOWN_STATUS");
    CHECK_STR(hf_status_str(INT_MIN), "HF_ERR_UNKNOWN_STATUS");
}

/* Fails a call in another thread; that must not touch the main thread's message. */
static void *fail_in_thread(void *arg) {
    size_t len = 0;
    (void)arg;
    if (hf_last_error_length(&len) != HF_OK || len != 0) return (void *)1; /* fresh thread */
    if (hf_data_free((hf_data *)(uintptr_t)0x99) != HF_ERR_INVALID_HANDLE) return (void *)1;
    return strstr(last_error(), "hf_data_free") ? NULL : (void *)1;
}

static void test_last_error(void) {
    char buf[16];
    char big[512];
    size_t len = 0, len_before = 0;
    pthread_t thread;
    void *thread_result = (void *)1;
    hf_data *d = NULL;
    const float x[2] = {1.0f, 2.0f};

    CHECK_ERR(hf_data_new_autoencoder(1, 2, NULL, 2, &d), HF_ERR_NULL_POINTER,
              "hf_data_new_autoencoder: argument 'inputs' is NULL");
    CHECK_OK(hf_last_error_length(&len));
    CHECK(len == strlen("hf_data_new_autoencoder: argument 'inputs' is NULL"));

    CHECK_OK(hf_last_error_message(big, sizeof big));
    CHECK(strlen(big) == len);
    CHECK(hf_last_error_message(big, len + 1) == HF_OK); /* exactly fits */
    CHECK(hf_last_error_message(big, len) == HF_ERR_BUFFER_TOO_SMALL);
    CHECK(strlen(big) == len - 1); /* truncated, still NUL-terminated */

    memset(buf, 'x', sizeof buf);
    CHECK(hf_last_error_message(buf, sizeof buf) == HF_ERR_BUFFER_TOO_SMALL);
    CHECK(buf[sizeof buf - 1] == '\0' && strlen(buf) == sizeof buf - 1);
    CHECK(strncmp(buf, "hf_data_new_aut", sizeof buf - 1) == 0);

    CHECK(hf_last_error_message(NULL, 0) == HF_ERR_BUFFER_TOO_SMALL); /* size query */
    CHECK(hf_last_error_message(NULL, 8) == HF_ERR_NULL_POINTER);
    CHECK(hf_last_error_length(NULL) == HF_ERR_NULL_POINTER);
    /* None of that replaced the message, and a successful call does not clear it. */
    CHECK_OK(hf_data_new_autoencoder(1, 2, x, 2, &d));
    CHECK_OK(hf_last_error_length(&len_before));
    CHECK(len_before == len);
    CHECK(strstr(last_error(), "'inputs' is NULL") != NULL);

    /* Messages are per thread. */
    CHECK(pthread_create(&thread, NULL, fail_in_thread, NULL) == 0);
    CHECK(pthread_join(thread, &thread_result) == 0);
    CHECK(thread_result == NULL);
    CHECK(strstr(last_error(), "hf_data_new_autoencoder") != NULL);
    CHECK_OK(hf_data_free(d));
}

static void test_data_roundtrip(void) {
    const float x[6] = {1, 2, 3, 4, 5, 6}; /* 3 examples x 2 */
    const float t[3] = {0.5f, -1, 2};      /* 3 examples x 1 */
    const double xd[4] = {0.25, 1e-3, -2, 1e30};
    float back[8];
    size_t n = 0, di = 0, dt = 0;
    hf_data *d = NULL, *ae = NULL, *d64 = NULL;

    CHECK_OK(hf_data_new(3, 2, x, 6, 1, t, 3, &d));
    CHECK(d != NULL);
    CHECK_OK(hf_data_size(d, &n, &di, &dt));
    CHECK(n == 3 && di == 2 && dt == 1);
    memset(back, 0, sizeof back);
    back[6] = 42;
    CHECK_OK(hf_data_copy_inputs(d, back, 8)); /* larger buffer: extra left alone */
    CHECK(memcmp(back, x, sizeof x) == 0 && back[6] == 42);
    CHECK_OK(hf_data_copy_targets(d, back, 3));
    CHECK(memcmp(back, t, sizeof t) == 0);

    CHECK_OK(hf_data_new_autoencoder(2, 3, x, 6, &ae));
    CHECK_OK(hf_data_size(ae, &n, &di, &dt));
    CHECK(n == 2 && di == 3 && dt == 3);
    CHECK_OK(hf_data_copy_targets(ae, back, 6));
    CHECK(memcmp(back, x, sizeof x) == 0);

    CHECK_OK(hf_data_new_autoencoder_f64(2, 2, xd, 4, &d64));
    CHECK_OK(hf_data_copy_inputs(d64, back, 4));
    CHECK(back[0] == 0.25f && back[1] == (float)1e-3 && back[2] == -2.0f &&
          back[3] == (float)1e30);
    CHECK_OK(hf_data_new_f64(2, 1, xd, 2, 2, xd, 4, &d64)); /* a second, independent handle */
    CHECK_OK(hf_data_size(d64, &n, &di, &dt));
    CHECK(n == 2 && di == 1 && dt == 2);

    CHECK_OK(hf_data_free(d));
    CHECK_OK(hf_data_free(ae));
    CHECK_OK(hf_data_free(d64));
}

/* Every bad argument to the constructors. `keep` is an unrelated live object
 * that must stay usable throughout. */
static void test_data_new_errors(hf_data *keep) {
    const float x[6] = {1, 2, 3, 4, 5, 6};
    const float t[3] = {1, 2, 3};
    float bad[6] = {1, 2, 3, 4, 5, 6};
    double badd[6] = {1, 2, 3, 4, 5, 6};
    hf_data *d = SENTINEL;
    size_t n = 0, di = 0, dt = 0;
    const size_t huge = SIZE_MAX / 2;

    /* NULL in each pointer slot. */
    CHECK_ERR(hf_data_new(3, 2, x, 6, 1, t, 3, NULL), HF_ERR_NULL_POINTER,
              "hf_data_new: argument 'out' is NULL");
    CHECK_ERR(hf_data_new(3, 2, NULL, 6, 1, t, 3, &d), HF_ERR_NULL_POINTER,
              "hf_data_new: argument 'inputs' is NULL");
    CHECK_ERR(hf_data_new(3, 2, x, 6, 1, NULL, 3, &d), HF_ERR_NULL_POINTER,
              "argument 'targets' is NULL");
    CHECK_ERR(hf_data_new_f64(3, 2, NULL, 6, 1, badd, 3, &d), HF_ERR_NULL_POINTER,
              "hf_data_new_f64: argument 'inputs' is NULL");
    CHECK_ERR(hf_data_new_f64(3, 2, badd, 6, 1, badd, 3, NULL), HF_ERR_NULL_POINTER, "'out'");
    CHECK_ERR(hf_data_new_autoencoder(3, 2, x, 6, NULL), HF_ERR_NULL_POINTER, "'out'");
    CHECK_ERR(hf_data_new_autoencoder_f64(3, 2, NULL, 6, &d), HF_ERR_NULL_POINTER, "'inputs'");
    /* NULL with length 0 is an empty array: the shape is then what is wrong. */
    CHECK_ERR(hf_data_new(3, 2, NULL, 0, 1, t, 3, &d), HF_ERR_SHAPE_MISMATCH,
              "inputs_len is 0, expected n x input_dim");

    /* Zero sizes. */
    CHECK_ERR(hf_data_new(0, 2, x, 0, 1, t, 0, &d), HF_ERR_INVALID_ARGUMENT,
              "need at least one example");
    CHECK_ERR(hf_data_new(3, 0, x, 0, 1, t, 3, &d), HF_ERR_INVALID_ARGUMENT, "inputs: n");
    CHECK_ERR(hf_data_new(3, 2, x, 6, 0, t, 0, &d), HF_ERR_INVALID_ARGUMENT, "targets: n");
    CHECK_ERR(hf_data_new_autoencoder(0, 2, x, 0, &d), HF_ERR_INVALID_ARGUMENT,
              "need at least one example");

    /* Overflowing n x d. */
    CHECK_ERR(hf_data_new(huge, 3, x, 6, 1, t, 3, &d), HF_ERR_INVALID_ARGUMENT,
              "overflows size_t");
    CHECK_ERR(hf_data_new(3, 2, x, 6, huge, t, 3, &d), HF_ERR_INVALID_ARGUMENT,
              "targets: n x target_dim");
    CHECK_ERR(hf_data_new_autoencoder(SIZE_MAX, SIZE_MAX, x, 6, &d), HF_ERR_INVALID_ARGUMENT,
              "overflows");
    CHECK_ERR(hf_data_new_autoencoder_f64(huge, 4, badd, 6, &d), HF_ERR_INVALID_ARGUMENT,
              "overflows");
    /* A length whose byte size overflows the address space. */
    CHECK_ERR(hf_data_new(3, 2, x, SIZE_MAX / 2, 1, t, 3, &d), HF_ERR_INVALID_ARGUMENT,
              "overflows the address space");

    /* Mismatched lengths. */
    CHECK_ERR(hf_data_new(3, 2, x, 5, 1, t, 3, &d), HF_ERR_SHAPE_MISMATCH,
              "inputs_len is 5, expected n x input_dim = 3 x 2 = 6");
    CHECK_ERR(hf_data_new(3, 2, x, 6, 1, t, 2, &d), HF_ERR_SHAPE_MISMATCH,
              "targets_len is 2, expected");
    CHECK_ERR(hf_data_new(2, 2, x, 6, 1, t, 2, &d), HF_ERR_SHAPE_MISMATCH, "inputs_len is 6");
    CHECK_ERR(hf_data_new_autoencoder(4, 2, x, 6, &d), HF_ERR_SHAPE_MISMATCH,
              "inputs_len is 6, expected n x dim = 4 x 2 = 8");

    /* NaN and infinities, with their position. */
    bad[3] = NAN; /* example 1, component 1 */
    CHECK_ERR(hf_data_new(3, 2, bad, 6, 1, t, 3, &d), HF_ERR_NON_FINITE,
              "inputs: value NaN at example 1, component 1 is not finite");
    bad[3] = 4;
    bad[4] = INFINITY;
    CHECK_ERR(hf_data_new_autoencoder(3, 2, bad, 6, &d), HF_ERR_NON_FINITE,
              "value inf at example 2, component 0");
    bad[4] = 5;
    bad[0] = -INFINITY;
    CHECK_ERR(hf_data_new(3, 1, t, 3, 2, bad, 6, &d), HF_ERR_NON_FINITE,
              "targets: value -inf at example 0, component 0");
    badd[5] = NAN;
    CHECK_ERR(hf_data_new_f64(3, 2, badd, 6, 1, badd, 3, &d), HF_ERR_NON_FINITE,
              "hf_data_new_f64: inputs: value NaN at example 2, component 1");
    badd[5] = 6;
    badd[2] = 1e300; /* finite double, beyond float */
    CHECK_ERR(hf_data_new_autoencoder_f64(3, 2, badd, 6, &d), HF_ERR_OUT_OF_RANGE,
              "at example 1, component 0 is outside the range of float");
    badd[2] = -1e39;
    CHECK_ERR(hf_data_new_f64(3, 1, badd, 3, 1, badd, 3, &d), HF_ERR_OUT_OF_RANGE,
              "inputs: value -1000000000000000000000000000000000000000 at example 2");

    CHECK(d == SENTINEL); /* no failing call wrote its out-parameter */

    /* The unrelated object is untouched. */
    CHECK_OK(hf_data_size(keep, &n, &di, &dt));
    CHECK(n == 3 && di == 2 && dt == 1);
}

static void test_handle_errors(hf_data *keep) {
    const float x[4] = {1, 2, 3, 4};
    float back[4] = {9, 9, 9, 9};
    size_t n = 77, di = 77, dt = 77;
    hf_data *d = NULL;
    hf_data *forged = (hf_data *)(uintptr_t)0x1234;

    /* NULL handle and NULL out-parameters. */
    CHECK_ERR(hf_data_size(NULL, &n, &di, &dt), HF_ERR_NULL_POINTER,
              "hf_data_size: argument 'data' is NULL");
    CHECK_ERR(hf_data_size(keep, NULL, &di, &dt), HF_ERR_NULL_POINTER, "argument 'n' is NULL");
    CHECK_ERR(hf_data_size(keep, &n, NULL, &dt), HF_ERR_NULL_POINTER, "'input_dim'");
    CHECK_ERR(hf_data_size(keep, &n, &di, NULL), HF_ERR_NULL_POINTER, "'target_dim'");
    CHECK(n == 77 && di == 77 && dt == 77);
    CHECK_ERR(hf_data_copy_inputs(NULL, back, 4), HF_ERR_NULL_POINTER, "'data'");
    CHECK_ERR(hf_data_copy_inputs(keep, NULL, 6), HF_ERR_NULL_POINTER,
              "hf_data_copy_inputs: argument 'out' is NULL");
    CHECK_ERR(hf_data_copy_targets(keep, NULL, 3), HF_ERR_NULL_POINTER, "'out'");

    /* Buffers too small: nothing written. */
    CHECK_ERR(hf_data_copy_inputs(keep, back, 4), HF_ERR_BUFFER_TOO_SMALL,
              "out_len is 4, need n x input_dim = 6");
    CHECK_ERR(hf_data_copy_inputs(keep, NULL, 0), HF_ERR_BUFFER_TOO_SMALL, "out_len is 0");
    CHECK_ERR(hf_data_copy_targets(keep, back, 2), HF_ERR_BUFFER_TOO_SMALL,
              "need n x target_dim = 3");
    CHECK(back[0] == 9 && back[3] == 9);

    /* Forged handle. */
    CHECK_ERR(hf_data_size(forged, &n, &di, &dt), HF_ERR_INVALID_HANDLE,
              "argument 'data' (0x1234) is not a valid hf_data handle");
    CHECK_ERR(hf_data_copy_inputs(forged, back, 4), HF_ERR_INVALID_HANDLE, "never created");
    CHECK_ERR(hf_data_free(forged), HF_ERR_INVALID_HANDLE, "hf_data_free: argument 'data'");

    /* Freed handle; double free; free of NULL. */
    CHECK_OK(hf_data_new_autoencoder(2, 2, x, 4, &d));
    CHECK_OK(hf_data_free(d));
    CHECK_ERR(hf_data_size(d, &n, &di, &dt), HF_ERR_INVALID_HANDLE,
              "argument 'data' is a hf_data handle that has already been freed");
    CHECK_ERR(hf_data_copy_targets(d, back, 4), HF_ERR_INVALID_HANDLE, "already been freed");
    CHECK_OK(hf_data_free(d));
    CHECK_OK(hf_data_free(d));
    CHECK_OK(hf_data_free(NULL));
    CHECK(n == 77 && back[0] == 9);

    /* A new object never reuses a freed handle. */
    {
        hf_data *again = NULL;
        CHECK_OK(hf_data_new_autoencoder(2, 2, x, 4, &again));
        CHECK(again != d);
        CHECK_ERR(hf_data_size(d, &n, &di, &dt), HF_ERR_INVALID_HANDLE, "already been freed");
        CHECK_OK(hf_data_free(again));
    }

    /* After all that, the unrelated object still works. */
    CHECK(hf_data_copy_inputs(keep, back, 4) == HF_ERR_BUFFER_TOO_SMALL);
    CHECK_OK(hf_data_size(keep, &n, &di, &dt));
    CHECK(n == 3 && di == 2 && dt == 1);
}

int main(void) {
    const float x[6] = {1, 2, 3, 4, 5, 6};
    const float t[3] = {1, 2, 3};
    hf_data *keep = NULL;

    test_version();
    test_status_names();
    test_last_error();
    test_data_roundtrip();
    CHECK_OK(hf_data_new(3, 2, x, 6, 1, t, 3, &keep));
    test_data_new_errors(keep);
    test_handle_errors(keep);
    CHECK_OK(hf_data_free(keep));
    return check_summary("test_basics");
}
