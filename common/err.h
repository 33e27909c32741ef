/* err: vkube's error codes. One X-macro table gives each code its HTTP status
 * and Kubernetes Status.reason, so every layer returns plain negative ints and
 * only proxy/ turns them into Status JSON. Used by every module. */
#ifndef VK_ERR_H
#define VK_ERR_H

/* X(name, value, http_status, reason) */
#define VK_ERRORS(X)                                                                               \
    X(VK_ENOTFOUND, -1001, 404, "NotFound")                                                       \
    X(VK_EEXIST, -1002, 409, "AlreadyExists")                                                     \
    X(VK_ECONFLICT, -1003, 409, "Conflict")                                                       \
    X(VK_EEXPIRED, -1004, 410, "Expired")                                                         \
    X(VK_EINVALID, -1005, 422, "Invalid")                                                         \
    X(VK_EBADREQUEST, -1006, 400, "BadRequest")                                                   \
    X(VK_EUNAUTHORIZED, -1007, 401, "Unauthorized")                                               \
    X(VK_EFORBIDDEN, -1008, 403, "Forbidden")                                                     \
    X(VK_EMETHOD, -1009, 405, "MethodNotAllowed")                                                 \
    X(VK_EUNSUPPORTEDMEDIA, -1010, 415, "UnsupportedMediaType")                                   \
    X(VK_ETOOLARGE, -1011, 413, "RequestEntityTooLarge")                                          \
    X(VK_ETOOMANY, -1012, 429, "TooManyRequests")                                                 \
    X(VK_ENOTACCEPTABLE, -1013, 406, "NotAcceptable")                                             \
    X(VK_EGONE, -1014, 410, "Gone")                                                               \
    X(VK_ETIMEOUT, -1015, 504, "Timeout")                                                         \
    X(VK_EUNAVAILABLE, -1016, 503, "ServiceUnavailable")                                          \
    X(VK_EINTERNAL, -1017, 500, "InternalError")                                                  \
    X(VK_EIO, -1018, 500, "InternalError")       /* storage I/O error */                          \
    X(VK_EFULL, -1019, 507, "InternalError")     /* storage full */                               \
    X(VK_ECORRUPT, -1020, 500, "InternalError")  /* database corrupt */                           \
    X(VK_ESCHEMA, -1021, 500, "InternalError")   /* database from a newer vkube */                \
    X(VK_EREADONLY, -1022, 500, "InternalError") /* database file not writable */                 \
    X(VK_ESLOW, -1023, 410, "Expired")           /* watcher fell too far behind, dropped */       \
    X(VK_ECLOSED, -1024, 503, "ServiceUnavailable") /* store or server shutting down */           \
    X(VK_EAGAIN, -1025, 0, "")                   /* not an error: try again later / pause */      \
    X(VK_ENOTIMPL, -1026, 405, "MethodNotAllowed") /* feature not implemented */

enum vk_err {
#define VK_ERR_ENUM(name, value, status, reason) name = value,
    VK_ERRORS(VK_ERR_ENUM)
#undef VK_ERR_ENUM
};

/* Static string naming the code ("VK_ENOTFOUND", or strerror text for errno values). */
const char *vk_err_name(int err);
/* HTTP status for a code (500 for unknown / negative errno values). */
int vk_err_http_status(int err);
/* Kubernetes Status.reason for a code ("InternalError" for unknown). */
const char *vk_err_reason(int err);

#endif
