# proxy: generated Kubernetes schema tables (tools/k8s-schema). The upstream
# .proto and Go files come from the Go module cache (`go mod download`, needs
# the Go module proxy once); regenerated only when the generator or the
# version below changes.
K8S_API_VERSION := v0.33.4
GEN_SRCS_proxy += build/gen/proxy/schema_gen.c

build/gen/proxy/schema_gen.c: tools/k8s-schema/gen.py tools/k8s-schema/fetch.sh proxy/module.mk
	@mkdir -p $(@D)
	python3 tools/k8s-schema/gen.py $@ \
		"$$(tools/k8s-schema/fetch.sh k8s.io/api@$(K8S_API_VERSION))" \
		"$$(tools/k8s-schema/fetch.sh k8s.io/apimachinery@$(K8S_API_VERSION))" \
		"$$(tools/k8s-schema/fetch.sh k8s.io/apiextensions-apiserver@$(K8S_API_VERSION))"
