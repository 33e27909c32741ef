/* Unit tests of the Endpoints/EndpointSlice computation
 * (controllers/endpoints.c): selection, ready and not-ready addresses, named
 * target ports, terminal and terminating pods, publishNotReadyAddresses,
 * headless services without ports. */
#include <jansson.h>
#include <string.h>

#include "controllers/controllers.h"
#include "tests/test.h"

static json_t *pod(const char *name, const char *ip, int ready, const char *phase)
{
    json_t *p = json_pack("{s:{s:s,s:s,s:s,s:{s:s}},s:{s:s,s:[{s:s,s:[{s:s,s:i}]}]},s:{s:s}}",
                          "metadata", "name", name, "namespace", "ns", "uid", name, "labels", "app",
                          "web", "spec", "nodeName", "n1", "containers", "name", "c", "ports",
                          "name", "http", "containerPort", 8080, "status", "phase", phase);
    json_t *st = json_object_get(p, "status");
    if (ip) json_object_set_new(st, "podIP", json_string(ip));
    json_object_set_new(st, "conditions",
                        json_pack("[{s:s,s:s}]", "type", "Ready", "status", ready ? "True" : "False"));
    return p;
}

static json_t *svc(const char *target)
{
    return json_pack("{s:{s:s,s:s},s:{s:{s:s},s:[{s:s,s:i,s:s}]}}", "metadata", "name", "web",
                     "namespace", "ns", "spec", "selector", "app", "web", "ports", "name", "p",
                     "port", 80, "targetPort", target);
}

static const char *S(json_t *o, const char *path)
{
    /* a.b.0.c style lookups */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = o;
    for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, "."))
        cur = (*tok >= '0' && *tok <= '9') ? json_array_get(cur, (size_t)atoi(tok))
                                          : json_object_get(cur, tok);
    return json_string_value(cur);
}

TEST(selects)
{
    json_t *s = svc("http"), *p = pod("a", "10.0.0.1", 1, "Running");
    CHECK(vk_controllers_endpoints_selects(s, p));
    json_object_set_new(json_object_get(json_object_get(p, "metadata"), "labels"), "app",
                        json_string("db"));
    CHECK(!vk_controllers_endpoints_selects(s, p));
    json_object_set_new(json_object_get(s, "spec"), "selector", json_object());
    CHECK(!vk_controllers_endpoints_selects(s, p)); /* an empty selector selects nothing */
    json_decref(s);
    json_decref(p);
}

TEST(subsets_ready_and_not_ready)
{
    json_t *s = svc("http");
    json_t *pods = json_pack("[o,o,o,o]", pod("b", "10.0.0.10", 1, "Running"),
                             pod("a", "10.0.0.9", 1, "Running"), pod("c", "10.0.0.3", 0, "Running"),
                             pod("d", NULL, 1, "Pending"));
    json_t *sub = vk_controllers_endpoints_subsets(s, pods);
    CHECK_EQ_INT(json_array_size(sub), 1);
    /* Sorted by IP as numbers: .9 before .10. */
    CHECK_EQ_STR(S(sub, "0.addresses.0.ip"), "10.0.0.9");
    CHECK_EQ_STR(S(sub, "0.addresses.1.ip"), "10.0.0.10");
    CHECK_EQ_STR(S(sub, "0.notReadyAddresses.0.ip"), "10.0.0.3");
    CHECK_EQ_INT(json_array_size(json_object_get(json_array_get(sub, 0), "notReadyAddresses")), 1);
    CHECK_EQ_STR(S(sub, "0.addresses.0.targetRef.name"), "a");
    CHECK_EQ_STR(S(sub, "0.addresses.0.nodeName"), "n1");
    CHECK_EQ_STR(S(sub, "0.ports.0.name"), "p");
    CHECK_EQ_STR(S(sub, "0.ports.0.protocol"), "TCP");
    CHECK_EQ_INT(json_integer_value(json_object_get(
                     json_array_get(json_object_get(json_array_get(sub, 0), "ports"), 0), "port")),
                 8080); /* the named port resolved */
    json_decref(sub);
    json_decref(pods);
    json_decref(s);
}

TEST(terminal_and_terminating)
{
    json_t *s = svc("8081");
    json_t *done = pod("done", "10.0.0.5", 0, "Succeeded");
    json_t *term = pod("term", "10.0.0.6", 1, "Running");
    json_object_set_new(json_object_get(term, "metadata"), "deletionTimestamp",
                        json_string("2026-01-01T00:00:00Z"));
    json_t *pods = json_pack("[o,o]", done, term);
    json_t *sub = vk_controllers_endpoints_subsets(s, pods);
    CHECK_EQ_INT(json_array_size(sub), 0);
    json_decref(sub);
    json_t *ports;
    json_t *eps = vk_controllers_endpoints_slice_endpoints(s, pods, &ports);
    CHECK_EQ_INT(json_array_size(eps), 1);
    json_t *c = json_object_get(json_array_get(eps, 0), "conditions");
    CHECK(json_is_false(json_object_get(c, "ready")));
    CHECK(json_is_true(json_object_get(c, "serving")));
    CHECK(json_is_true(json_object_get(c, "terminating")));
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(ports, 0), "port")), 8081);
    json_decref(eps);
    json_decref(ports);
    /* publishNotReadyAddresses keeps terminating and unready pods as addresses. */
    json_object_set_new(json_object_get(s, "spec"), "publishNotReadyAddresses", json_true());
    sub = vk_controllers_endpoints_subsets(s, pods);
    CHECK_EQ_STR(S(sub, "0.addresses.0.ip"), "10.0.0.6");
    json_decref(sub);
    json_decref(pods);
    json_decref(s);
}

TEST(unknown_named_port_and_headless)
{
    json_t *s = svc("nosuch");
    json_t *pods = json_pack("[o]", pod("a", "10.0.0.1", 1, "Running"));
    json_t *sub = vk_controllers_endpoints_subsets(s, pods);
    CHECK_EQ_INT(json_array_size(sub), 0);
    json_decref(sub);
    json_decref(s);
    json_t *h = json_pack("{s:{s:s,s:s},s:{s:{s:s},s:s}}", "metadata", "name", "web", "namespace",
                          "ns", "spec", "selector", "app", "web", "clusterIP", "None");
    sub = vk_controllers_endpoints_subsets(h, pods);
    CHECK_EQ_INT(json_array_size(sub), 1);
    CHECK_EQ_STR(S(sub, "0.addresses.0.ip"), "10.0.0.1");
    CHECK(json_object_get(json_array_get(sub, 0), "ports") == NULL);
    json_decref(sub);
    json_decref(h);
    json_decref(pods);
}

int main(void)
{
    RUN(selects);
    RUN(subsets_ready_and_not_ready);
    RUN(terminal_and_terminating);
    RUN(unknown_named_port_and_headless);
    TEST_EXIT();
}
