# syncer and the shared client modules it uses (common/yaml, kubeconfig, httpc):
# their unit tests link only what they need, so they build while other modules
# are in progress.
TEST_LINK_yaml := common
TEST_LINK_kubeconfig := common
TEST_LINK_httpc := common
# syncer/tenantops and syncer/relay (the tenant side in vkube serve) use the
# in-process API client and the store, so syncer tests link proxy and store too.
TEST_LINK_syncer := common store proxy syncer
