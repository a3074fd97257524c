/*
 * The canonical cross-binding run (issue 6): the same small training run
 * through the C ABI from every host (C, C++, Octave, Python) must print the
 * same line, bit for bit:
 *
 *   CANONICAL <final objective> <final train error> <final test error>
 *
 * with each number as "%.17g". The run: hf_data_curves(400, 7); train = the
 * first 300 examples, test = the last 100 (copied out with
 * hf_data_copy_inputs, rebuilt with hf_data_new_autoencoder); net =
 * hf_net_new_autoencoder({784, 32, 6}, logistic, seed 11); config = the
 * defaults with chunk_size = 150, threads = 1, max_iters = 3, backend =
 * "cpu"; hf_session_run to completion.
 *
 * Not a test_*.c program (tests/c_api.rs does not run it): the binding
 * tests compile it, run it, and compare its line with their own. Exit
 * status 0 on success; on any error it prints the status and message to
 * stderr and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>

#include "hessfree.h"

enum { N_ALL = 400, N_TRAIN = 300, N_TEST = N_ALL - N_TRAIN, DIM = 784 };

/* Reports a failed call (status name and the thread's last message). */
static int failed(const char *what, hf_status status) {
    char message[1024];
    message[0] = '\0';
    (void)hf_last_error_message(message, sizeof message);
    fprintf(stderr, "canonical: %s failed: %s: %s\n", what, hf_status_str((int)status),
            message);
    return 1;
}

#define TRY(call)                                  \
    do {                                           \
        hf_status st_ = (call);                    \
        if (st_ != HF_OK) {                        \
            rc = failed(#call, st_);               \
            goto done;                             \
        }                                          \
    } while (0)

int main(void) {
    static float inputs[N_ALL * DIM];
    const size_t encoder[3] = {784, 32, 6};
    hf_data *all = NULL, *train = NULL, *test = NULL;
    hf_net *net = NULL;
    hf_config *cfg = NULL;
    hf_session *session = NULL;
    hf_summary summary;
    int rc = 0;

    TRY(hf_data_curves(N_ALL, 7, &all));
    TRY(hf_data_copy_inputs(all, inputs, N_ALL * DIM));
    TRY(hf_data_new_autoencoder(N_TRAIN, DIM, inputs, N_TRAIN * DIM, &train));
    TRY(hf_data_new_autoencoder(N_TEST, DIM, inputs + N_TRAIN * DIM, N_TEST * DIM, &test));
    TRY(hf_net_new_autoencoder(encoder, 3, HF_ACT_LOGISTIC, 11, &net));
    TRY(hf_config_new(&cfg));
    TRY(hf_config_set_i64(cfg, "chunk_size", 150));
    TRY(hf_config_set_i64(cfg, "threads", 1));
    TRY(hf_config_set_i64(cfg, "max_iters", 3));
    TRY(hf_config_set_str(cfg, "backend", "cpu"));
    TRY(hf_session_new(net, train, test, cfg, &session));
    TRY(hf_session_run(session, NULL, NULL, &summary));
    printf("CANONICAL %.17g %.17g %.17g\n", summary.final_objective, summary.final_train_error,
           summary.final_test_error);

done:
    hf_session_free(session);
    hf_config_free(cfg);
    hf_net_free(net);
    hf_data_free(test);
    hf_data_free(train);
    hf_data_free(all);
    return rc;
}
