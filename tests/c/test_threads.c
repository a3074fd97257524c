/*
 * Handles under concurrency: several threads create, query and free their
 * own data sets while all of them read one shared data set, and one thread
 * frees a handle the others keep using. Every call must return HF_OK or,
 * for the freed handle, HF_ERR_INVALID_HANDLE; nothing may crash, and each
 * thread's last error message stays its own.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

#define THREADS 8
#define ROUNDS 300

static hf_data *shared_data = NULL; /* read by all threads */
static hf_data *doomed = NULL;      /* freed by thread 0 while others use it */

typedef struct {
    int id;
    int errors; /* calls that returned an unexpected status */
    int doomed_ok, doomed_freed;
} worker;

static void *work(void *arg) {
    worker *w = (worker *)arg;
    float x[4], back[4];
    int r, k;
    for (r = 0; r < ROUNDS; r++) {
        hf_data *mine = NULL;
        size_t n = 0, di = 0, dt = 0;
        hf_status st;
        for (k = 0; k < 4; k++) x[k] = (float)(w->id * 1000 + r + k);
        if (hf_data_new_autoencoder(2, 2, x, 4, &mine) != HF_OK) w->errors++;
        if (hf_data_copy_inputs(mine, back, 4) != HF_OK || memcmp(back, x, sizeof x) != 0)
            w->errors++;
        if (hf_data_size(shared_data, &n, &di, &dt) != HF_OK || n != 3 || di != 2 || dt != 1)
            w->errors++;
        if (w->id == 0 && r == ROUNDS / 2) {
            if (hf_data_free(doomed) != HF_OK) w->errors++;
        }
        st = hf_data_size(doomed, &n, &di, &dt);
        if (st == HF_OK) {
            w->doomed_ok++;
        } else if (st == HF_ERR_INVALID_HANDLE && strstr(last_error(), "already been freed")) {
            w->doomed_freed++;
        } else {
            w->errors++;
        }
        /* A per-thread error right after a call: must be this thread's own. */
        if (hf_data_new_autoencoder(0, 2, x, 0, &mine) != HF_ERR_INVALID_ARGUMENT ||
            !strstr(last_error(), "hf_data_new_autoencoder: inputs: n x dim is 0 x 2"))
            w->errors++;
        if (hf_data_free(mine) != HF_OK || hf_data_free(mine) != HF_OK) w->errors++;
    }
    return NULL;
}

int main(void) {
    const float x[6] = {1, 2, 3, 4, 5, 6};
    const float t[3] = {1, 2, 3};
    pthread_t threads[THREADS];
    worker workers[THREADS];
    int i, total_ok = 0, total_freed = 0;

    CHECK_OK(hf_data_new(3, 2, x, 6, 1, t, 3, &shared_data));
    CHECK_OK(hf_data_new_autoencoder(3, 2, x, 6, &doomed));
    for (i = 0; i < THREADS; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].id = i;
        CHECK(pthread_create(&threads[i], NULL, work, &workers[i]) == 0);
    }
    for (i = 0; i < THREADS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(workers[i].errors == 0);
        CHECK(workers[i].doomed_ok + workers[i].doomed_freed == ROUNDS);
        total_ok += workers[i].doomed_ok;
        total_freed += workers[i].doomed_freed;
    }
    /* Thread 0 saw the handle live before its free and freed after it. */
    CHECK(workers[0].doomed_ok == ROUNDS / 2 && workers[0].doomed_freed == ROUNDS / 2);
    CHECK(total_ok > 0 && total_freed > 0);
    CHECK_ERR(hf_data_size(doomed, NULL, NULL, NULL), HF_ERR_INVALID_HANDLE, "already been freed");
    CHECK_OK(hf_data_free(shared_data));
    return check_summary("test_threads");
}
