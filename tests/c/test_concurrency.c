/*
 * Sessions under concurrency, through the C ABI.
 *
 * (a) Independent sessions: 8 threads each train their own session (a small
 *     autoencoder on hf_data_curves, each thread its own seed) at the same
 *     time; every final theta is bit-for-bit the theta of the same run done
 *     alone, sequentially.
 * (b) One shared session: a runner thread is inside hf_session_run while
 *     other threads call hf_session_iteration, hf_session_get_params,
 *     hf_session_lambda and the report/summary text functions (documented: they wait until
 *     the run returns), and stopper threads call hf_session_request_stop
 *     (documented: never waits). The run's progress callback does not return
 *     until a stopper's request_stop has returned, so a request_stop that
 *     waited for the run would deadlock. The readers must all see the
 *     state after the run (iteration count = the run's total), theta stays
 *     finite, the run ends with HF_TERMINATION_STOP_REQUESTED at the
 *     iteration the stop was requested in, and a later step works.
 * (c) hf_session_free from another thread while a run is in progress: the
 *     run completes normally and the handle is then reported as freed.
 *
 * A watchdog (alarm) turns a deadlock into a failure instead of a hang.
 * Under valgrind (HESSFREE_TEST_UNDER_VALGRIND=1) the problems are smaller.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

enum { THREADS = 8, READERS = 4, STOPPERS = 2, MAX_P = 40000 };

static int small;
/* Option "threads" of every session: 0 (all cores) unless
 * HESSFREE_TEST_KERNEL_THREADS says otherwise. With 1, the library starts no
 * worker threads of its own, so a ThreadSanitizer run sees only the
 * program's threads (docs/reliability.md). */
static int64_t kernel_threads;

static void on_alarm(int sig) {
    static const char msg[] =
        "FAIL test_concurrency: watchdog expired: a thread did not finish (deadlock?)\n";
    (void)sig;
    (void)!write(1, msg, sizeof msg - 1);
    _exit(3);
}

static void sleep_ms(long ms) {
    struct timespec t;
    t.tv_sec = ms / 1000;
    t.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&t, NULL);
}

/* ------------------------------------------ (a) independent sessions */

typedef struct {
    int id;
    float *theta; /* MAX_P floats: the final theta */
    size_t p;
    uint64_t iterations;
    hf_status status;
    char message[512];
} job;

/* Trains one small autoencoder with thread-specific data and seed. */
static void train_one(job *j) {
    const size_t n = small ? 18 : 120;
    const size_t encoder[3] = {784, small ? 4 : 16, small ? 2 : 4};
    hf_data *data = NULL;
    hf_net *net = NULL;
    hf_config *cfg = NULL;
    hf_session *s = NULL;
    hf_summary sum;
    hf_status st;

    st = hf_data_curves(n, 100 + (uint64_t)j->id, &data);
    if (st == HF_OK) st = hf_net_new_autoencoder(encoder, 3, HF_ACT_LOGISTIC, 1 + (uint64_t)j->id, &net);
    if (st == HF_OK) st = hf_config_new(&cfg);
    if (st == HF_OK) st = hf_config_set_i64(cfg, "max_iters", small ? 2 : 3);
    if (st == HF_OK) st = hf_config_set_i64(cfg, "chunk_size", (int64_t)n / 3);
    if (st == HF_OK) st = hf_config_set_i64(cfg, "cg_max_iters", small ? 3 : 20);
    if (st == HF_OK) st = hf_config_set_i64(cfg, "seed", 7 + j->id);
    if (st == HF_OK) st = hf_config_set_str(cfg, "chunk_order", "random");
    if (st == HF_OK) st = hf_config_set_str(cfg, "backend", "cpu");
    if (st == HF_OK) st = hf_config_set_i64(cfg, "threads", kernel_threads);
    if (st == HF_OK) st = hf_session_new(net, data, NULL, cfg, &s);
    if (st == HF_OK) st = hf_session_run(s, NULL, NULL, &sum);
    if (st == HF_OK) st = hf_session_num_params(s, &j->p);
    /* A buffer of MAX_P floats: a larger P is a bug of this test. */
    if (st == HF_OK) st = j->p <= MAX_P ? hf_session_get_params(s, j->theta, MAX_P) : HF_ERR_INTERNAL;
    if (st == HF_OK) j->iterations = sum.iterations_total;
    j->status = st;
    if (st != HF_OK)
        snprintf(j->message, sizeof j->message, "%s (P = %zu)", last_error(), j->p);
    hf_session_free(s);
    hf_config_free(cfg);
    hf_net_free(net);
    hf_data_free(data);
}

static void *train_thread(void *arg) {
    train_one((job *)arg);
    return NULL;
}

static void test_independent_sessions(void) {
    job seq[THREADS], par[THREADS];
    pthread_t threads[THREADS];
    int i, same = 0;
    for (i = 0; i < THREADS; i++) {
        memset(&seq[i], 0, sizeof seq[i]);
        memset(&par[i], 0, sizeof par[i]);
        seq[i].id = par[i].id = i;
        seq[i].theta = (float *)calloc(MAX_P, sizeof(float));
        par[i].theta = (float *)calloc(MAX_P, sizeof(float));
        CHECK(seq[i].theta && par[i].theta);
    }
    for (i = 0; i < THREADS; i++) train_one(&seq[i]);
    for (i = 0; i < THREADS; i++) CHECK(pthread_create(&threads[i], NULL, train_thread, &par[i]) == 0);
    for (i = 0; i < THREADS; i++) CHECK(pthread_join(threads[i], NULL) == 0);
    for (i = 0; i < THREADS; i++) {
        if (seq[i].status != HF_OK) printf("sequential run %d: %s\n", i, seq[i].message);
        if (par[i].status != HF_OK) printf("concurrent run %d: %s\n", i, par[i].message);
        CHECK(seq[i].status == HF_OK && par[i].status == HF_OK);
        CHECK(seq[i].p > 0 && seq[i].p == par[i].p);
        CHECK(seq[i].iterations == (uint64_t)(small ? 2 : 3) && par[i].iterations == seq[i].iterations);
        /* Bit for bit: memcmp, not a tolerance. */
        if (seq[i].p == par[i].p && memcmp(seq[i].theta, par[i].theta, seq[i].p * sizeof(float)) == 0)
            same++;
        else
            printf("FAIL: thread %d: concurrent theta differs from the sequential run\n", i);
    }
    CHECK(same == THREADS);
    /* Different seeds give different runs, so a mix-up between threads would show. */
    CHECK(seq[0].p == seq[1].p && memcmp(seq[0].theta, seq[1].theta, seq[0].p * sizeof(float)) != 0);
    printf("(a) %d concurrent sessions: %d/%d final thetas bit-identical to sequential runs\n",
           THREADS, same, THREADS);
    for (i = 0; i < THREADS; i++) {
        free(seq[i].theta);
        free(par[i].theta);
    }
}

/* ------------------------------------------------ (b) one shared session */

enum { STOP_AT = 3 };

typedef struct {
    hf_session *s;
    size_t p;
    atomic_int iterations_seen; /* progress callbacks so far */
    atomic_int readers_going;   /* readers about to call into the session */
    atomic_int stops_returned;  /* request_stop calls that have returned */
    atomic_int stop_now;        /* the callback lets the stoppers go */
    hf_status run_status;
    hf_summary sum;
    int callback_timed_out;
} shared;

typedef struct {
    shared *sh;
    int id;
    hf_status st_iter, st_params, st_lambda, st_report, st_summary;
    uint64_t iteration;
    int run_done_before_return; /* the run had done all its iterations when the call returned */
    int theta_finite;
    char report[512];
} reader;

static int progress(void *user, const hf_iteration_report *r) {
    shared *sh = (shared *)user;
    int k = atomic_fetch_add(&sh->iterations_seen, 1) + 1;
    (void)r;
    if (k == 1) {
        /* Let the readers block on the session while the run is in progress. */
        long waited = 0;
        while (atomic_load(&sh->readers_going) < READERS && waited < 60000) sleep_ms(1), waited++;
        sleep_ms(20);
    }
    if (k == STOP_AT) {
        /* Only now may the stoppers call request_stop, and this callback does
         * not return until one such call has returned: a request_stop that
         * waited for the run would deadlock here (and the watchdog fire). */
        long waited = 0;
        atomic_store(&sh->stop_now, 1);
        while (atomic_load(&sh->stops_returned) == 0) {
            sleep_ms(1);
            if (++waited > 600000) {
                sh->callback_timed_out = 1;
                break;
            }
        }
    }
    return 0;
}

static void *runner(void *arg) {
    shared *sh = (shared *)arg;
    sh->run_status = hf_session_run(sh->s, progress, sh, &sh->sum);
    return NULL;
}

static void *read_session(void *arg) {
    reader *rd = (reader *)arg;
    shared *sh = rd->sh;
    float *theta = (float *)malloc(sh->p * sizeof(float));
    double lambda = 0;
    char summary[512];
    size_t k;
    while (atomic_load(&sh->iterations_seen) < 1) sleep_ms(1);
    atomic_fetch_add(&sh->readers_going, 1);
    /* Each of these waits until hf_session_run has returned (documented). */
    switch (rd->id % 4) {
    case 0: rd->st_iter = hf_session_iteration(sh->s, &rd->iteration); break;
    case 1: rd->st_params = hf_session_get_params(sh->s, theta, sh->p); break;
    case 2: rd->st_report = hf_session_report_text(sh->s, rd->report, sizeof rd->report); break;
    default: rd->st_lambda = hf_session_lambda(sh->s, &lambda); break;
    }
    /* The run's last progress callback came before it released the session. */
    rd->run_done_before_return = atomic_load(&sh->iterations_seen) == STOP_AT;
    /* Then the rest, in any order, also after the run. */
    if (rd->id % 4 != 0) rd->st_iter = hf_session_iteration(sh->s, &rd->iteration);
    if (rd->id % 4 != 1) rd->st_params = hf_session_get_params(sh->s, theta, sh->p);
    if (rd->id % 4 != 2) rd->st_report = hf_session_report_text(sh->s, rd->report, sizeof rd->report);
    if (rd->id % 4 != 3) rd->st_lambda = hf_session_lambda(sh->s, &lambda);
    rd->st_summary = hf_session_summary_text(sh->s, 1, summary, sizeof summary);
    rd->theta_finite = rd->st_params == HF_OK && isfinite(lambda);
    for (k = 0; rd->theta_finite && k < sh->p; k++) rd->theta_finite = isfinite(theta[k]) != 0;
    free(theta);
    return NULL;
}

typedef struct {
    shared *sh;
    int calls, failures;
} stopper;

static void *stop_session(void *arg) {
    stopper *sp = (stopper *)arg;
    shared *sh = sp->sh;
    while (!atomic_load(&sh->stop_now)) sleep_ms(1);
    /* Hammer it: every call returns HF_OK at once. */
    for (sp->calls = 0; sp->calls < 200; sp->calls++) {
        if (hf_session_request_stop(sh->s) != HF_OK) sp->failures++;
        atomic_fetch_add(&sh->stops_returned, 1);
    }
    return NULL;
}

static hf_session *small_session(uint64_t seed) {
    const size_t encoder[2] = {784, small ? 4 : 16};
    hf_data *data = NULL;
    hf_net *net = NULL;
    hf_config *cfg = NULL;
    hf_session *s = NULL;
    CHECK_OK(hf_data_curves(small ? 20 : 100, seed, &data));
    CHECK_OK(hf_net_new_autoencoder(encoder, 2, HF_ACT_LOGISTIC, seed, &net));
    CHECK_OK(hf_config_new(&cfg));
    CHECK_OK(hf_config_set_i64(cfg, "max_iters", 1000)); /* only the stop request ends the run */
    CHECK_OK(hf_config_set_i64(cfg, "cg_max_iters", small ? 3 : 10));
    CHECK_OK(hf_config_set_str(cfg, "backend", "cpu"));
    CHECK_OK(hf_config_set_i64(cfg, "threads", kernel_threads));
    CHECK_OK(hf_session_new(net, data, NULL, cfg, &s));
    CHECK_OK(hf_config_free(cfg));
    CHECK_OK(hf_net_free(net));
    CHECK_OK(hf_data_free(data));
    return s;
}

static void test_shared_session(void) {
    shared sh;
    reader readers[READERS];
    stopper stoppers[STOPPERS];
    pthread_t run_thread, read_threads[READERS], stop_threads[STOPPERS];
    hf_iteration_report rep;
    uint64_t it = 0;
    float *theta;
    int i, finite = 1, all_waited = 1;
    size_t k;

    memset(&sh, 0, sizeof sh);
    sh.s = small_session(5);
    CHECK_OK(hf_session_num_params(sh.s, &sh.p));
    CHECK(pthread_create(&run_thread, NULL, runner, &sh) == 0);
    for (i = 0; i < READERS; i++) {
        memset(&readers[i], 0, sizeof readers[i]);
        readers[i].sh = &sh;
        readers[i].id = i;
        CHECK(pthread_create(&read_threads[i], NULL, read_session, &readers[i]) == 0);
    }
    for (i = 0; i < STOPPERS; i++) {
        memset(&stoppers[i], 0, sizeof stoppers[i]);
        stoppers[i].sh = &sh;
        CHECK(pthread_create(&stop_threads[i], NULL, stop_session, &stoppers[i]) == 0);
    }
    CHECK(pthread_join(run_thread, NULL) == 0);
    for (i = 0; i < STOPPERS; i++) CHECK(pthread_join(stop_threads[i], NULL) == 0);
    for (i = 0; i < READERS; i++) CHECK(pthread_join(read_threads[i], NULL) == 0);

    /* The run: stopped by request, at the iteration the stop came in. */
    CHECK(sh.run_status == HF_OK);
    CHECK(!sh.callback_timed_out);
    CHECK(sh.sum.termination == HF_TERMINATION_STOP_REQUESTED);
    CHECK(sh.sum.iterations == STOP_AT && sh.sum.iterations_total == STOP_AT);
    CHECK(atomic_load(&sh.iterations_seen) == STOP_AT);
    for (i = 0; i < STOPPERS; i++) CHECK(stoppers[i].calls == 200 && stoppers[i].failures == 0);

    /* The readers waited for the run and saw its final state. */
    for (i = 0; i < READERS; i++) {
        reader *rd = &readers[i];
        CHECK(rd->st_iter == HF_OK && rd->st_params == HF_OK && rd->st_lambda == HF_OK &&
              rd->st_report == HF_OK && rd->st_summary == HF_OK);
        CHECK(rd->iteration == STOP_AT);
        CHECK(rd->theta_finite);
        all_waited &= rd->run_done_before_return;
    }
    CHECK(all_waited);

    CHECK_OK(hf_session_iteration(sh.s, &it));
    CHECK(it == STOP_AT);
    /* A later step works and continues the count. */
    CHECK_OK(hf_session_step(sh.s, &rep));
    CHECK(rep.iteration == STOP_AT + 1 && isfinite(rep.objective) && isfinite(rep.lambda));
    theta = (float *)malloc(sh.p * sizeof(float));
    CHECK(theta != NULL);
    CHECK_OK(hf_session_get_params(sh.s, theta, sh.p));
    for (k = 0; k < sh.p; k++) finite &= isfinite(theta[k]) != 0;
    CHECK(finite);
    free(theta);
    {
        /* A request made while no run is in progress stops the next run
         * before its first iteration (whether or not some of the stoppers'
         * requests arrived after the run had consumed the first). */
        hf_summary sum;
        CHECK_OK(hf_session_request_stop(sh.s));
        CHECK_OK(hf_session_run(sh.s, NULL, NULL, &sum));
        CHECK(sum.iterations == 0 && sum.termination == HF_TERMINATION_STOP_REQUESTED);
        CHECK_OK(hf_session_iteration(sh.s, &it));
        CHECK(it == STOP_AT + 1);
    }
    CHECK_OK(hf_session_free(sh.s));
    printf("(b) shared session: run stopped at iteration %d by request_stop from %d threads "
           "(%d calls, none waited); %d readers waited for the run and saw its final state\n",
           STOP_AT, STOPPERS, 200 * STOPPERS, READERS);
}

/* ------------------------------------- (c) free while a run is in progress */

typedef struct {
    hf_session *s;
    atomic_int iterations;
    atomic_int freed;
    hf_status run_status, free_status;
    hf_summary sum;
} doomed_run;

static int doomed_progress(void *user, const hf_iteration_report *r) {
    doomed_run *d = (doomed_run *)user;
    long waited = 0;
    (void)r;
    if (atomic_fetch_add(&d->iterations, 1) == 0) {
        /* Wait until the free has returned, then finish one more iteration. */
        while (!atomic_load(&d->freed) && waited++ < 600000) sleep_ms(1);
        return 0;
    }
    return 1; /* stop after the second iteration */
}

static void *doomed_runner(void *arg) {
    doomed_run *d = (doomed_run *)arg;
    d->run_status = hf_session_run(d->s, doomed_progress, d, &d->sum);
    return NULL;
}

static void test_free_during_run(void) {
    doomed_run d;
    pthread_t t;
    uint64_t it;
    memset(&d, 0, sizeof d);
    d.s = small_session(9);
    CHECK(pthread_create(&t, NULL, doomed_runner, &d) == 0);
    while (atomic_load(&d.iterations) < 1) sleep_ms(1);
    d.free_status = hf_session_free(d.s); /* does not wait for the run */
    atomic_store(&d.freed, 1);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(d.free_status == HF_OK);
    CHECK(d.run_status == HF_OK && d.sum.iterations == 2);
    CHECK(d.sum.termination == HF_TERMINATION_CALLBACK_STOP && isfinite(d.sum.final_objective));
    CHECK_ERR(hf_session_iteration(d.s, &it), HF_ERR_INVALID_HANDLE, "already been freed");
    CHECK_OK(hf_session_free(d.s));
    printf("(c) hf_session_free during a run: the run finished its iterations, then the handle "
           "was freed\n");
}

int main(void) {
    const char *v = getenv("HESSFREE_TEST_UNDER_VALGRIND");
    const char *threads = getenv("HESSFREE_TEST_KERNEL_THREADS");
    small = v && v[0] == '1';
    kernel_threads = threads ? atoi(threads) : 0;
    signal(SIGALRM, on_alarm);
    alarm(small ? 1200 : 300);
    test_independent_sessions();
    test_shared_session();
    test_free_during_run();
    alarm(0);
    return check_summary("test_concurrency");
}
