/*
 * Tiny test helpers shared by the C host programs in tests/c/.
 *
 * Protocol (checked by tests/c_api.rs): a program counts its checks and ends
 * with `return check_summary("test_name");`, which prints the line
 * "test_name: N passed, M failed" and returns the exit code (0 iff M == 0).
 * Each failing check prints a line starting with "FAIL" and keeps going, so
 * one run shows every failure.
 *
 *   CHECK(cond)                          any condition
 *   CHECK_OK(call)                       call returns HF_OK
 *   CHECK_ERR(call, HF_ERR_X, "substr")  call returns HF_ERR_X and the thread's
 *                                        last error message contains "substr"
 *                                        (NULL: any message, but not empty)
 *   CHECK_STR(actual, expected)          strcmp equality
 *   last_error()                         the thread's last message (per-thread buffer)
 */
#ifndef HESSFREE_TEST_CHECK_H
#define HESSFREE_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "hessfree.h"

static int check_passed_ = 0;
static int check_failed_ = 0;

#ifdef __cplusplus
#define CHECK_THREAD_LOCAL_ thread_local
#else
#define CHECK_THREAD_LOCAL_ _Thread_local
#endif

/* The calling thread's last error message, in a per-thread static buffer
 * (messages are far shorter; a longer one comes back truncated). */
static inline const char *last_error(void) {
    static CHECK_THREAD_LOCAL_ char buf[4096];
    buf[0] = '\0';
    (void)hf_last_error_message(buf, sizeof buf);
    return buf;
}

static inline void check_record_(int ok, const char *what, const char *file, int line,
                                 const char *detail) {
    if (ok) {
        check_passed_++;
    } else {
        check_failed_++;
        printf("FAIL %s:%d: %s%s%s\n", file, line, what, detail ? " -- " : "",
               detail ? detail : "");
        fflush(stdout);
    }
}

static inline void check_status_(hf_status got, hf_status want, const char *substring,
                                 const char *expr, const char *file, int line) {
    char detail[4600];
    const char *msg = got == HF_OK ? "" : last_error();
    int ok = got == want;
    if (ok && want != HF_OK) {
        ok = substring ? strstr(msg, substring) != NULL : msg[0] != '\0';
    }
    snprintf(detail, sizeof detail, "got %s, want %s%s%s; message: \"%s\"",
             hf_status_str((int)got), hf_status_str((int)want),
             substring ? " containing " : "", substring ? substring : "", msg);
    check_record_(ok, expr, file, line, ok ? NULL : detail);
}

#define CHECK(cond) check_record_((cond) ? 1 : 0, #cond, __FILE__, __LINE__, NULL)
#define CHECK_OK(call) check_status_((call), HF_OK, NULL, #call, __FILE__, __LINE__)
#define CHECK_ERR(call, want, substring) \
    check_status_((call), (want), (substring), #call, __FILE__, __LINE__)
#define CHECK_STR(actual, expected)                                                     \
    do {                                                                                \
        const char *a_ = (actual), *e_ = (expected);                                   \
        check_record_(a_ && strcmp(a_, e_) == 0, #actual " == " #expected, __FILE__, \
                      __LINE__, a_ ? a_ : "(NULL)");                                    \
    } while (0)

/* Prints "name: N passed, M failed" and returns the process exit code. */
static inline int check_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_passed_, check_failed_);
    fflush(stdout);
    return check_failed_ == 0 ? 0 : 1;
}

#endif /* HESSFREE_TEST_CHECK_H */
