/* test: the tiny unit-test harness every tests/<module>/test_*.c uses.
 * Each test file defines tests with TEST(name) and lists them in main via
 * RUN(name); output is one line per test, "ok <file>:<name>" or
 * "not ok <file>:<name> - <first failure>", which tests/run counts. */
#ifndef VK_TEST_H
#define VK_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int vk_test_failed_;       /* failures in the current test */
static int vk_test_total_failed_; /* tests failed in this binary */
static char vk_test_msg_[512];

#define TEST(name) static void name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (!vk_test_failed_++)                                                                \
                snprintf(vk_test_msg_, sizeof vk_test_msg_, "%s:%d: CHECK(%s)", __FILE__,          \
                         __LINE__, #cond);                                                         \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);             \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ != vb_) {                                                                          \
            if (!vk_test_failed_++)                                                                \
                snprintf(vk_test_msg_, sizeof vk_test_msg_, "%s:%d: %s == %lld, expected %lld",    \
                         __FILE__, __LINE__, #a, va_, vb_);                                        \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, va_,   \
                    vb_);                                                                          \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                               \
            if (!vk_test_failed_++)                                                                \
                snprintf(vk_test_msg_, sizeof vk_test_msg_, "%s:%d: %s == \"%s\", expected \"%s\"", \
                         __FILE__, __LINE__, #a, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");      \
            fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,    \
                    sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                                   \
        }                                                                                          \
    } while (0)

#define RUN(name)                                                                                  \
    do {                                                                                           \
        vk_test_failed_ = 0;                                                                       \
        vk_test_msg_[0] = 0;                                                                       \
        name();                                                                                    \
        if (vk_test_failed_) {                                                                     \
            vk_test_total_failed_++;                                                               \
            printf("not ok %s:%s - %s\n", __FILE__, #name, vk_test_msg_);                          \
        } else {                                                                                   \
            printf("ok %s:%s\n", __FILE__, #name);                                                 \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

#define TEST_EXIT() return vk_test_total_failed_ ? 1 : 0

#endif
