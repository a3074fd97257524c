/*
 * C host test of hf_net (and the hf_data loaders): creation from a layer
 * spec, an autoencoder spec and a preset; queries; parameters; outputs,
 * loss, gradient and curvature products checked against computations done
 * here in C (a forward pass by hand, finite differences, symmetry); save and
 * load; and every kind of bad argument: NULL in each pointer slot, zero,
 * overflowing and absurd sizes (a 2^40-wide layer), mismatched shapes, NaN
 * parameters and inputs, bad enum codes, missing and corrupt files,
 * wrong-kind, forged and freed handles.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define SENTINEL_NET ((hf_net *)(uintptr_t)0x5eed)

/* The 3-2-2 test network (tanh hidden, linear output) and its θ. */
enum { DIN = 3, DH = 2, DOUT = 2, P = DIN * DH + DH + DH * DOUT + DOUT };

static void set_theta(float *theta) {
    int k;
    for (k = 0; k < P; k++) theta[k] = 0.1f * (float)k - 0.6f;
}

/* The forward pass by hand, in double: theta = W1 (3x2 row-major), b1, W2 (2x2), b2. */
static void forward(const float *theta, const float *x, double *y) {
    const float *w1 = theta, *b1 = theta + DIN * DH, *w2 = b1 + DH, *b2 = w2 + DH * DOUT;
    double h[DH];
    int i, j;
    for (j = 0; j < DH; j++) {
        double z = b1[j];
        for (i = 0; i < DIN; i++) z += (double)x[i] * w1[i * DH + j];
        h[j] = tanh(z);
    }
    for (j = 0; j < DOUT; j++) {
        double z = b2[j];
        for (i = 0; i < DH; i++) z += h[i] * w2[i * DOUT + j];
        y[j] = z;
    }
}

static hf_net *small_net(void) {
    const size_t sizes[3] = {DIN, DH, DOUT};
    const int32_t acts[2] = {HF_ACT_TANH, HF_ACT_LINEAR};
    hf_net *net = NULL;
    float theta[P];
    CHECK_OK(hf_net_new(sizes, 3, acts, 2, 1, &net));
    set_theta(theta);
    CHECK_OK(hf_net_set_params(net, theta, P));
    return net;
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    size_t i;
    for (i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static void test_create_and_query(void) {
    hf_net *net = small_net(), *ae = NULL, *preset = NULL, *copy = NULL;
    size_t n = 0, sizes[8];
    int32_t acts[8];
    char text[128];
    float theta[P], back[P + 1];
    const size_t encoder[3] = {784, 64, 8};

    CHECK_OK(hf_net_num_params(net, &n));
    CHECK(n == P);
    CHECK_OK(hf_net_num_layers(net, &n));
    CHECK(n == 3);
    sizes[3] = 99;
    CHECK_OK(hf_net_layer_sizes(net, sizes, 4)); /* larger buffer: extra untouched */
    CHECK(sizes[0] == 3 && sizes[1] == 2 && sizes[2] == 2 && sizes[3] == 99);
    CHECK_OK(hf_net_layer_activations(net, acts, 2));
    CHECK(acts[0] == HF_ACT_TANH && acts[1] == HF_ACT_LINEAR);
    CHECK_OK(hf_net_describe(net, text, sizeof text));
    CHECK_STR(text, "3-2(tanh)-2(linear)");

    set_theta(theta);
    back[P] = 42;
    CHECK_OK(hf_net_get_params(net, back, P + 1));
    CHECK(memcmp(back, theta, sizeof theta) == 0 && back[P] == 42);

    CHECK_OK(hf_net_clone(net, &copy));
    theta[0] = 5;
    CHECK_OK(hf_net_set_params(copy, theta, P));
    CHECK_OK(hf_net_get_params(net, back, P));
    CHECK(back[0] != 5); /* independent */
    CHECK_OK(hf_net_free(copy));

    CHECK_OK(hf_net_new_autoencoder(encoder, 3, HF_ACT_LOGISTIC, 7, &ae));
    CHECK_OK(hf_net_num_layers(ae, &n));
    CHECK(n == 5);
    CHECK_OK(hf_net_layer_sizes(ae, sizes, 5));
    CHECK(sizes[0] == 784 && sizes[1] == 64 && sizes[2] == 8 && sizes[3] == 64 &&
          sizes[4] == 784);
    CHECK_OK(hf_net_layer_activations(ae, acts, 4));
    CHECK(acts[0] == HF_ACT_LOGISTIC && acts[1] == HF_ACT_LINEAR && acts[2] == HF_ACT_LOGISTIC &&
          acts[3] == HF_ACT_LOGISTIC);
    CHECK_OK(hf_net_num_params(ae, &n));
    CHECK(n == 784 * 64 + 64 + 64 * 8 + 8 + 8 * 64 + 64 + 64 * 784 + 784);

    CHECK_OK(hf_net_new_preset("curves", 1, &preset));
    CHECK_OK(hf_net_num_layers(preset, &n));
    CHECK(n == 13);
    CHECK_OK(hf_net_free(preset));
    CHECK_OK(hf_net_free(ae));
    CHECK_OK(hf_net_free(net));
}

static void test_numerics(void) {
    hf_net *net = small_net();
    const float x[2 * DIN] = {0.5f, -1.0f, 2.0f, 0.0f, 0.3f, -0.7f};
    const float t[2 * DOUT] = {0.1f, -0.2f, 1.0f, 0.5f};
    float theta[P], y[2 * DOUT + 1], grad[P], u[P], v[P], gu[P], gv[P], hv[P], hv_fd[P];
    double want[DOUT], loss = 0, error = 0, gloss = 0, manual = 0, max_err = 0;
    hf_data *data = NULL;
    int e, j, k;

    set_theta(theta);
    y[2 * DOUT] = 42;
    CHECK_OK(hf_net_predict(net, x, 2 * DIN, 2, y, 2 * DOUT + 1));
    for (e = 0; e < 2; e++) {
        forward(theta, x + e * DIN, want);
        for (j = 0; j < DOUT; j++) {
            double d = want[j] - t[e * DOUT + j];
            if (fabs(y[e * DOUT + j] - want[j]) > 1e-5) max_err = 1;
            manual += d * d / 2; /* mean over 2 examples of the un-halved sum */
        }
    }
    CHECK(max_err == 0);
    CHECK(y[2 * DOUT] == 42);

    CHECK_OK(hf_data_new(2, DIN, x, 2 * DIN, DOUT, t, 2 * DOUT, &data));
    CHECK_OK(hf_net_evaluate(net, data, &loss, &error));
    CHECK(fabs(loss - manual) < 1e-5 && fabs(error - manual) < 1e-5);

    /* Gradient against central differences of the loss. */
    CHECK_OK(hf_net_gradient(net, data, grad, P, &gloss));
    CHECK(fabs(gloss - loss) < 1e-9);
    max_err = 0;
    for (k = 0; k < P; k++) {
        float p[P];
        double lp, lm, ep;
        memcpy(p, theta, sizeof p);
        p[k] = theta[k] + 1e-2f;
        hf_net_set_params(net, p, P);
        hf_net_evaluate(net, data, &lp, &ep);
        p[k] = theta[k] - 1e-2f;
        hf_net_set_params(net, p, P);
        hf_net_evaluate(net, data, &lm, &ep);
        if (fabs((lp - lm) / (double)((theta[k] + 1e-2f) - (theta[k] - 1e-2f)) - grad[k]) >
            max_err)
            max_err = fabs((lp - lm) / (double)((theta[k] + 1e-2f) - (theta[k] - 1e-2f)) - grad[k]);
    }
    CHECK_OK(hf_net_set_params(net, theta, P));
    CHECK(max_err < 2e-3);

    /* Gauss-Newton products are symmetric; Hessian products match differences. */
    for (k = 0; k < P; k++) {
        u[k] = (float)sin(k + 1.0);
        v[k] = (float)cos(3.0 * k);
    }
    CHECK_OK(hf_net_curvature_product(net, data, HF_CURVATURE_GAUSS_NEWTON, u, P, gu, P));
    CHECK_OK(hf_net_curvature_product(net, data, HF_CURVATURE_GAUSS_NEWTON, v, P, gv, P));
    CHECK(fabs(dot(v, gu, P) - dot(u, gv, P)) < 1e-4 * (1 + fabs(dot(v, gu, P))));
    CHECK(dot(u, gu, P) >= -1e-6); /* positive semi-definite */
    CHECK_OK(hf_net_curvature_product(net, data, HF_CURVATURE_HESSIAN, v, P, hv, P));
    CHECK_OK(hf_net_hessian_product_fd(net, data, v, P, 1e-4, hv_fd, P));
    max_err = 0;
    for (k = 0; k < P; k++)
        if (fabs(hv[k] - hv_fd[k]) > max_err) max_err = fabs(hv[k] - hv_fd[k]);
    CHECK(max_err < 1e-3);
    CHECK_OK(hf_net_curvature_product(net, data, HF_CURVATURE_EMPIRICAL_FISHER, v, P, hv, P));
    CHECK(dot(v, hv, P) >= -1e-6);

    CHECK_OK(hf_data_free(data));
    CHECK_OK(hf_net_free(net));
}

/* A scratch folder for files, removed at the end. */
static char scratch[64];

static void path_in_scratch(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/%s", scratch, name);
}

static void test_save_load(void) {
    hf_net *net = small_net(), *back = SENTINEL_NET;
    float a[P], b[P];
    char path[128], bad[128], missing[128];
    FILE *f;

    path_in_scratch(path, sizeof path, "net.hfn");
    path_in_scratch(bad, sizeof bad, "garbage.hfn");
    path_in_scratch(missing, sizeof missing, "no/such/dir/net.hfn");
    CHECK_OK(hf_net_save(net, path));
    CHECK_OK(hf_net_load(path, &back));
    CHECK_OK(hf_net_get_params(net, a, P));
    CHECK_OK(hf_net_get_params(back, b, P));
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK_OK(hf_net_free(back));

    back = SENTINEL_NET;
    CHECK_ERR(hf_net_load(missing, &back), HF_ERR_IO, "cannot read network file");
    CHECK_ERR(hf_net_save(net, missing), HF_ERR_IO, "no/such/dir");
    f = fopen(bad, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("this is not a network", f);
        fclose(f);
    }
    CHECK_ERR(hf_net_load(bad, &back), HF_ERR_FORMAT, "garbage.hfn");
    CHECK_ERR(hf_net_load(NULL, &back), HF_ERR_NULL_POINTER, "argument 'path' is NULL");
    CHECK_ERR(hf_net_load("", &back), HF_ERR_INVALID_ARGUMENT, "empty path");
    CHECK_ERR(hf_net_load(path, NULL), HF_ERR_NULL_POINTER, "'out'");
    CHECK_ERR(hf_net_save(net, NULL), HF_ERR_NULL_POINTER, "'path'");
    CHECK_ERR(hf_net_save(NULL, path), HF_ERR_NULL_POINTER, "'net'");
    CHECK(back == SENTINEL_NET);
    remove(path);
    remove(bad);
    CHECK_OK(hf_net_free(net));
}

static void test_bad_specs(void) {
    const size_t sizes[3] = {DIN, DH, DOUT};
    const int32_t acts[2] = {HF_ACT_TANH, HF_ACT_LINEAR};
    const size_t huge[2] = {(size_t)1 << 40, 4};
    const size_t wide[3] = {4, (size_t)1 << 40, 4};
    const size_t zero[3] = {3, 0, 2};
    const size_t overflow[2] = {SIZE_MAX, SIZE_MAX};
    const int32_t bad_code[2] = {HF_ACT_TANH, 17};
    const int32_t softmax_hidden[2] = {HF_ACT_SOFTMAX, HF_ACT_LINEAR};
    const int32_t relu_out[2] = {HF_ACT_TANH, HF_ACT_RELU};
    const size_t encoder[2] = {10, 3};
    hf_net *net = SENTINEL_NET;

    CHECK_ERR(hf_net_new(huge, 2, acts + 1, 1, 1, &net), HF_ERR_RESOURCE_LIMIT,
              "has more than 2147483648 parameters; refusing to allocate it");
    CHECK_ERR(hf_net_new(wide, 3, acts, 2, 1, &net), HF_ERR_RESOURCE_LIMIT, "refusing");
    CHECK_ERR(hf_net_new(overflow, 2, acts + 1, 1, 1, &net), HF_ERR_RESOURCE_LIMIT, "refusing");
    CHECK_ERR(hf_net_new(zero, 3, acts, 2, 1, &net), HF_ERR_INVALID_ARGUMENT,
              "hf_net_new: layer 1 has zero units");
    CHECK_ERR(hf_net_new(sizes, 1, acts, 0, 1, &net), HF_ERR_INVALID_ARGUMENT,
              "at least an input and an output layer");
    CHECK_ERR(hf_net_new(sizes, 0, acts, 0, 1, &net), HF_ERR_INVALID_ARGUMENT, "got 0 layer");
    CHECK_ERR(hf_net_new(sizes, 3, acts, 1, 1, &net), HF_ERR_SHAPE_MISMATCH,
              "3 layer sizes need 2 activations");
    CHECK_ERR(hf_net_new(sizes, 3, bad_code, 2, 1, &net), HF_ERR_INVALID_ARGUMENT,
              "activations[1] = 17 is not an hf_activation");
    CHECK_ERR(hf_net_new(sizes, 3, softmax_hidden, 2, 1, &net), HF_ERR_INVALID_ARGUMENT,
              "softmax is only supported on the output layer");
    CHECK_ERR(hf_net_new(sizes, 3, relu_out, 2, 1, &net), HF_ERR_INVALID_ARGUMENT,
              "output units must be logistic, linear or softmax");
    CHECK_ERR(hf_net_new(NULL, 3, acts, 2, 1, &net), HF_ERR_NULL_POINTER, "'sizes' is NULL");
    CHECK_ERR(hf_net_new(sizes, 3, NULL, 2, 1, &net), HF_ERR_NULL_POINTER, "'activations'");
    CHECK_ERR(hf_net_new(sizes, 3, acts, 2, 1, NULL), HF_ERR_NULL_POINTER, "'out'");
    CHECK_ERR(hf_net_new(sizes, SIZE_MAX, acts, 2, 1, &net), HF_ERR_INVALID_ARGUMENT,
              "overflows the address space");
    CHECK_ERR(hf_net_new_autoencoder(encoder, 1, HF_ACT_LOGISTIC, 1, &net),
              HF_ERR_INVALID_ARGUMENT, "needs an input and a code size");
    CHECK_ERR(hf_net_new_autoencoder(encoder, 2, -1, 1, &net), HF_ERR_INVALID_ARGUMENT,
              "output_activation = -1");
    CHECK_ERR(hf_net_new_autoencoder(NULL, 2, HF_ACT_LINEAR, 1, &net), HF_ERR_NULL_POINTER,
              "'encoder'");
    CHECK_ERR(hf_net_new_autoencoder(huge, 2, HF_ACT_LINEAR, 1, &net), HF_ERR_RESOURCE_LIMIT,
              "refusing");
    CHECK_ERR(hf_net_new_preset("imagenet", 1, &net), HF_ERR_INVALID_ARGUMENT,
              "unknown preset 'imagenet'");
    CHECK_ERR(hf_net_new_preset(NULL, 1, &net), HF_ERR_NULL_POINTER, "'preset'");
    CHECK(net == SENTINEL_NET);
}

static void test_bad_arguments(hf_net *net) {
    const float x[2 * DIN] = {0.5f, -1.0f, 2.0f, 0.0f, 0.3f, -0.7f};
    const float t[2 * DOUT] = {0.1f, -0.2f, 1.0f, 0.5f};
    float theta[P], y[2 * DOUT], buf[P], v[P], xbad[2 * DIN];
    double loss = -1, error = -1;
    size_t n = 77;
    char text[4] = "abc";
    hf_data *data = NULL, *narrow = NULL;
    hf_net *copy = SENTINEL_NET;
    int k;

    set_theta(theta);
    for (k = 0; k < P; k++) v[k] = 1;
    CHECK_OK(hf_data_new(2, DIN, x, 2 * DIN, DOUT, t, 2 * DOUT, &data));
    CHECK_OK(hf_data_new_autoencoder(2, 2, t, 4, &narrow));

    /* Parameters: length, NaN with its index, NULL. */
    theta[5] = NAN;
    CHECK_ERR(hf_net_set_params(net, theta, P), HF_ERR_NON_FINITE,
              "hf_net_set_params: params[5] = NaN is not finite");
    theta[5] = 0;
    theta[P - 1] = -INFINITY;
    CHECK_ERR(hf_net_set_params(net, theta, P), HF_ERR_NON_FINITE, "params[13] = -inf");
    set_theta(theta);
    CHECK_ERR(hf_net_set_params(net, theta, P - 1), HF_ERR_SHAPE_MISMATCH,
              "params_len is 13, expected the number of parameters = 14");
    CHECK_ERR(hf_net_set_params(net, theta, P + 1), HF_ERR_SHAPE_MISMATCH, "params_len is 15");
    CHECK_ERR(hf_net_set_params(net, NULL, P), HF_ERR_NULL_POINTER, "'params'");
    CHECK_ERR(hf_net_set_params(net, NULL, 0), HF_ERR_SHAPE_MISMATCH, "params_len is 0");
    CHECK_ERR(hf_net_get_params(net, buf, P - 1), HF_ERR_BUFFER_TOO_SMALL,
              "out_len is 13, need the number of parameters = 14");
    CHECK_ERR(hf_net_get_params(net, NULL, P), HF_ERR_NULL_POINTER, "'out'");
    CHECK_ERR(hf_net_get_params(NULL, buf, P), HF_ERR_NULL_POINTER, "'net'");
    CHECK_ERR(hf_net_num_params(net, NULL), HF_ERR_NULL_POINTER, "'count'");
    CHECK_ERR(hf_net_num_layers(NULL, &n), HF_ERR_NULL_POINTER, "'net'");
    CHECK_ERR(hf_net_layer_sizes(net, (size_t *)buf, 2), HF_ERR_BUFFER_TOO_SMALL,
              "need the number of layers = 3");
    CHECK_ERR(hf_net_layer_activations(net, NULL, 2), HF_ERR_NULL_POINTER, "'out'");
    CHECK_ERR(hf_net_describe(net, text, sizeof text), HF_ERR_BUFFER_TOO_SMALL, "needs 20");
    CHECK_STR(text, "abc");
    CHECK_ERR(hf_net_clone(net, NULL), HF_ERR_NULL_POINTER, "'out'");

    /* Predict: shapes, overflow, NaN inputs, NULL. */
    CHECK_ERR(hf_net_predict(net, x, 2 * DIN, 0, y, 4), HF_ERR_INVALID_ARGUMENT, "n is 0");
    CHECK_ERR(hf_net_predict(net, x, 5, 2, y, 4), HF_ERR_SHAPE_MISMATCH,
              "inputs_len is 5, expected n x input_dim = 6");
    CHECK_ERR(hf_net_predict(net, x, 2 * DIN, 2, y, 3), HF_ERR_BUFFER_TOO_SMALL,
              "outputs_len is 3, need n x output_dim = 4");
    CHECK_ERR(hf_net_predict(net, x, 2 * DIN, SIZE_MAX / 2, y, 4), HF_ERR_INVALID_ARGUMENT,
              "overflow");
    memcpy(xbad, x, sizeof xbad);
    xbad[4] = NAN;
    CHECK_ERR(hf_net_predict(net, xbad, 2 * DIN, 2, y, 4), HF_ERR_NON_FINITE,
              "value NaN at example 1, component 1");
    CHECK_ERR(hf_net_predict(net, NULL, 2 * DIN, 2, y, 4), HF_ERR_NULL_POINTER, "'inputs'");
    CHECK_ERR(hf_net_predict(net, x, 2 * DIN, 2, NULL, 4), HF_ERR_NULL_POINTER, "'outputs'");

    /* Data that does not fit the network; NULL data and outputs. */
    CHECK_ERR(hf_net_evaluate(net, narrow, &loss, &error), HF_ERR_SHAPE_MISMATCH,
              "data is 2→2 wide but the network maps 3→2");
    CHECK_ERR(hf_net_evaluate(net, NULL, &loss, &error), HF_ERR_NULL_POINTER, "'data'");
    CHECK_ERR(hf_net_evaluate(net, data, NULL, &error), HF_ERR_NULL_POINTER, "'loss'");
    CHECK_ERR(hf_net_evaluate(net, data, &loss, NULL), HF_ERR_NULL_POINTER, "'error'");
    CHECK_ERR(hf_net_gradient(net, narrow, buf, P, &loss), HF_ERR_SHAPE_MISMATCH, "wide");
    CHECK_ERR(hf_net_gradient(net, data, buf, P - 1, &loss), HF_ERR_BUFFER_TOO_SMALL,
              "grad_len is 13");
    CHECK_ERR(hf_net_gradient(net, data, NULL, P, &loss), HF_ERR_NULL_POINTER, "'grad'");
    CHECK_ERR(hf_net_gradient(net, data, buf, P, NULL), HF_ERR_NULL_POINTER, "'loss'");
    CHECK(loss == -1 && error == -1);

    /* Curvature products: kind, lengths, NaN, h. */
    CHECK_ERR(hf_net_curvature_product(net, data, 3, v, P, buf, P), HF_ERR_INVALID_ARGUMENT,
              "kind = 3 is not an hf_curvature");
    CHECK_ERR(hf_net_curvature_product(net, data, -1, v, P, buf, P), HF_ERR_INVALID_ARGUMENT,
              "kind = -1");
    CHECK_ERR(hf_net_curvature_product(net, data, 0, v, P - 1, buf, P), HF_ERR_SHAPE_MISMATCH,
              "v_len is 13, expected the number of parameters = 14");
    CHECK_ERR(hf_net_curvature_product(net, data, 0, v, P, buf, 2), HF_ERR_BUFFER_TOO_SMALL,
              "out_len is 2");
    CHECK_ERR(hf_net_curvature_product(net, narrow, 0, v, P, buf, P), HF_ERR_SHAPE_MISMATCH,
              "wide");
    v[3] = INFINITY;
    CHECK_ERR(hf_net_curvature_product(net, data, 0, v, P, buf, P), HF_ERR_NON_FINITE,
              "v[3] = inf is not finite");
    CHECK_ERR(hf_net_hessian_product_fd(net, data, v, P, 1e-4, buf, P), HF_ERR_NON_FINITE,
              "v[3]");
    v[3] = 1;
    CHECK_ERR(hf_net_hessian_product_fd(net, data, v, P, 0.0, buf, P), HF_ERR_OUT_OF_RANGE,
              "finite-difference step must be > 0, got 0");
    CHECK_ERR(hf_net_hessian_product_fd(net, data, v, P, NAN, buf, P), HF_ERR_OUT_OF_RANGE,
              "got NaN");
    CHECK_ERR(hf_net_curvature_product(net, data, 0, NULL, P, buf, P), HF_ERR_NULL_POINTER,
              "'v'");
    CHECK_ERR(hf_net_curvature_product(net, data, 0, v, P, NULL, P), HF_ERR_NULL_POINTER,
              "'out'");
    CHECK_ERR(hf_net_curvature_product(net, NULL, 0, v, P, buf, P), HF_ERR_NULL_POINTER,
              "'data'");

    /* Wrong-kind, forged and freed handles. */
    CHECK_ERR(hf_net_evaluate((const hf_net *)data, data, &loss, &error), HF_ERR_INVALID_HANDLE,
              "argument 'net' is a hf_data handle, expected hf_net");
    CHECK_ERR(hf_net_evaluate(net, (const hf_data *)net, &loss, &error), HF_ERR_INVALID_HANDLE,
              "argument 'data' is a hf_net handle, expected hf_data");
    CHECK_ERR(hf_net_free((hf_net *)data), HF_ERR_INVALID_HANDLE, "expected hf_net");
    CHECK_ERR(hf_data_free((hf_data *)net), HF_ERR_INVALID_HANDLE, "expected hf_data");
    CHECK_ERR(hf_net_num_params((const hf_net *)(uintptr_t)0xdead, &n), HF_ERR_INVALID_HANDLE,
              "never created");
    CHECK_OK(hf_net_clone(net, &copy));
    CHECK_OK(hf_net_free(copy));
    CHECK_ERR(hf_net_num_params(copy, &n), HF_ERR_INVALID_HANDLE,
              "argument 'net' is a hf_net handle that has already been freed");
    CHECK_ERR(hf_net_predict(copy, x, 2 * DIN, 2, y, 4), HF_ERR_INVALID_HANDLE, "freed");
    CHECK_OK(hf_net_free(copy));
    CHECK_OK(hf_net_free(NULL));
    CHECK(n == 77);

    /* Everything is still usable. */
    CHECK_OK(hf_net_evaluate(net, data, &loss, &error));
    CHECK(loss >= 0 && error >= 0);
    CHECK_OK(hf_net_get_params(net, buf, P));
    CHECK(memcmp(buf, theta, sizeof theta) == 0); /* no failing call changed θ */
    CHECK_OK(hf_data_free(data));
    CHECK_OK(hf_data_free(narrow));
}

static void test_loaders(void) {
    hf_data *d = NULL, *a = (hf_data *)(uintptr_t)0x5eed, *b = (hf_data *)(uintptr_t)0x5eed;
    size_t n = 0, di = 0, dt = 0;
    float first[784], again[784];
    char missing[128];

    CHECK_OK(hf_data_curves(5, 11, &d));
    CHECK_OK(hf_data_size(d, &n, &di, &dt));
    CHECK(n == 5 && di == 784 && dt == 784);
    {
        float all[5 * 784];
        size_t i;
        int in_range = 1;
        CHECK_OK(hf_data_copy_inputs(d, all, 5 * 784));
        for (i = 0; i < 5 * 784; i++)
            if (!(all[i] >= 0 && all[i] <= 1)) in_range = 0;
        CHECK(in_range);
        memcpy(first, all, sizeof first);
    }
    CHECK_OK(hf_data_free(d));
    CHECK_OK(hf_data_curves(1, 11, &d)); /* same seed: same first image */
    CHECK_OK(hf_data_copy_inputs(d, again, 784));
    CHECK(memcmp(first, again, sizeof first) == 0);
    CHECK_OK(hf_data_free(d));
    d = (hf_data *)(uintptr_t)0x5eed;
    CHECK_ERR(hf_data_curves(0, 1, &d), HF_ERR_INVALID_ARGUMENT, "n = 0");
    CHECK_ERR(hf_data_curves(SIZE_MAX / 8, 1, &d), HF_ERR_INVALID_ARGUMENT, "overflow");
    CHECK_ERR(hf_data_curves(3, 1, NULL), HF_ERR_NULL_POINTER, "'out'");

    path_in_scratch(missing, sizeof missing, "nowhere");
    CHECK_ERR(hf_data_load_mnist(missing, &a, &b), HF_ERR_IO, "nowhere");
    CHECK_ERR(hf_data_load_mnist(NULL, &a, &b), HF_ERR_NULL_POINTER, "'dir'");
    CHECK_ERR(hf_data_load_mnist(missing, NULL, &b), HF_ERR_NULL_POINTER, "'train'");
    CHECK_ERR(hf_data_load_mnist(missing, &a, NULL), HF_ERR_NULL_POINTER, "'test'");
    CHECK_ERR(hf_data_faces(missing, 2, 1, &a, &b), HF_ERR_IO, "cannot read .npy file");
    CHECK_ERR(hf_data_faces(NULL, 2, 1, &a, &b), HF_ERR_NULL_POINTER, "'olivetti_npy'");
    CHECK_ERR(hf_data_faces(missing, 0, 1, &a, &b), HF_ERR_INVALID_ARGUMENT,
              "per_image must be at least 1");
    CHECK_ERR(hf_data_preset("mnist", missing, 1, &a, &b), HF_ERR_IO, "nowhere");
    CHECK_ERR(hf_data_preset("svhn", missing, 1, &a, &b), HF_ERR_INVALID_ARGUMENT,
              "unknown preset 'svhn'");
    CHECK_ERR(hf_data_preset(NULL, missing, 1, &a, &b), HF_ERR_NULL_POINTER, "'preset'");
    CHECK(d == (hf_data *)(uintptr_t)0x5eed && a == d && b == d);
}

int main(void) {
    hf_net *keep;
    strcpy(scratch, "/tmp/hessfree_test_net_XXXXXX");
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return 1;
    }
    test_create_and_query();
    test_numerics();
    test_save_load();
    test_bad_specs();
    keep = small_net();
    test_bad_arguments(keep);
    CHECK_OK(hf_net_free(keep));
    test_loaders();
    rmdir(scratch);
    return check_summary("test_net");
}
