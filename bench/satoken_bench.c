/* satoken_bench: cost of service-account tokens (proxy/satoken.c) on this
 * machine: signing a token (TokenRequest) and verifying one (every API request
 * that carries a service-account bearer token; signature + claims, then the
 * store lookups of the ServiceAccount). Figures are printed, never asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "common/cert.h"
#include "common/mem.h"
#include "proxy/satoken.h"

static double now_s(void)
{
    return (double)uv_hrtime() / 1e9;
}

int main(void)
{
    vk_cert_pem_t k;
    vk_satoken_t *s = NULL;
    if (vk_cert_make_sa_key(&k) || vk_satoken_new_pem(k.key, NULL, &s)) {
        fprintf(stderr, "satoken_bench: key setup failed\n");
        return 1;
    }
    vk_cert_pem_free(&k);
    int64_t t = (int64_t)time(NULL);
    vk_satoken_claims_t c = {.namespace_ = "default",
                             .sa_name = "default",
                             .sa_uid = "2655a220-ff64-4bf0-9326-0a9ae612f45b",
                             .pod_name = "web-0",
                             .pod_uid = "1d526d75-a46c-49fc-860c-472e4bd5ffee",
                             .iat = t,
                             .exp = t + 3600};
    int n = 2000;
    char *tok = NULL;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        free(tok);
        tok = NULL;
        if (vk_satoken_issue(s, &c, &tok)) return 1;
    }
    double t1 = now_s();
    vk_satoken_claims_t v;
    char err[128];
    int m = 20000;
    for (int i = 0; i < m; i++) {
        vk_pool_t *pool = vk_pool_new();
        if (vk_satoken_verify(s, tok, NULL, t, pool, &v, err, sizeof err)) return 1;
        vk_pool_free(pool);
    }
    double t2 = now_s();
    printf("RS256 2048-bit, token of %zu bytes (pod-bound)\n", strlen(tok));
    printf("issue:  %8.1f us/token  (%d tokens)\n", (t1 - t0) / n * 1e6, n);
    printf("verify: %8.1f us/token  (%d verifications, signature + claims, no store)\n",
           (t2 - t1) / m * 1e6, m);
    free(tok);
    vk_satoken_free(s);
    return 0;
}
