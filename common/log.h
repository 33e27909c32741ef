/* log: leveled logging to stderr with a timestamp. The level is process-wide
 * configuration set once at start (the only such setting). */
#ifndef VK_LOG_H
#define VK_LOG_H

enum { VK_LOG_ERROR = 0, VK_LOG_WARN = 1, VK_LOG_INFO = 2, VK_LOG_DEBUG = 3 };

void vk_log_set_level(int level);
int vk_log_level(void);
void vk_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define vk_log_error(...) vk_log(VK_LOG_ERROR, __VA_ARGS__)
#define vk_log_warn(...) vk_log(VK_LOG_WARN, __VA_ARGS__)
#define vk_log_info(...) vk_log(VK_LOG_INFO, __VA_ARGS__)
#define vk_log_debug(...) vk_log(VK_LOG_DEBUG, __VA_ARGS__)

#endif
