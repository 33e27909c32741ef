/* log: stderr logging. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int current_level = VK_LOG_INFO; /* set once at start-up by the CLI */

void vk_log_set_level(int level)
{
    current_level = level;
}

int vk_log_level(void)
{
    return current_level;
}

void vk_log(int level, const char *fmt, ...)
{
    if (level > current_level) return;
    static const char *const names[] = {"E", "W", "I", "D"};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    fprintf(stderr, "%s%s.%03ld ", names[level & 3], buf, ts.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
