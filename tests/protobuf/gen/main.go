// Command gen writes vkube's protobuf decoder fixtures: for a set of
// representative objects it prints one line per object,
// "name<TAB>base64(protobuf body)<TAB>Go JSON", where the body is what a
// client-go 0.33 typed client sends (the real apimachinery protobuf
// serializer: "k8s\0" + runtime.Unknown) and the JSON is encoding/json's
// output for the same object. Run: go run . > ../fixtures.txt
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func ptr[T any](v T) *T { return &v }

func objects() map[string]runtime.Object {
	ts := metav1.NewTime(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC))
	mt := metav1.NewMicroTime(time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC))
	labels := map[string]string{"app": "web", "tier": "front"}
	container := corev1.Container{
		Name:    "web",
		Image:   "nginx:1.27",
		Command: []string{"nginx", "-g", "daemon off;"},
		Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP},
			{ContainerPort: 0, HostPort: 8443},
		},
		Env: []corev1.EnvVar{
			{Name: "A", Value: "1"},
			{Name: "EMPTY"},
			{Name: "FROM", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		},
		Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
			InitialDelaySeconds: 3,
			PeriodSeconds:       0,
		},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}},
		},
		SecurityContext: &corev1.SecurityContext{RunAsNonRoot: ptr(false), RunAsUser: ptr(int64(0)), Privileged: ptr(true)},
		ImagePullPolicy: corev1.PullIfNotPresent,
	}
	podSpec := corev1.PodSpec{
		Containers:                    []corev1.Container{container},
		InitContainers:                []corev1.Container{{Name: "init", Image: "busybox", Args: []string{"true"}}},
		RestartPolicy:                 corev1.RestartPolicyAlways,
		TerminationGracePeriodSeconds: ptr(int64(30)),
		NodeSelector:                  map[string]string{"kubernetes.io/os": "linux"},
		Volumes: []corev1.Volume{
			{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cm"},
				Items:                []corev1.KeyToPath{{Key: "a", Path: "a.txt", Mode: ptr(int32(0o644))}},
				DefaultMode:          ptr(int32(0o420)),
			}}},
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr(resource.MustParse("1Gi"))}}},
		},
		Tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptr(int64(0))}},
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a", "b"}}}}},
		}}},
		HostNetwork: false,
		DNSPolicy:   corev1.DNSClusterFirst,
	}
	return map[string]runtime.Object{
		"configmap": &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default"},
			Data:       map[string]string{"a": "b", "empty": "", "multi": "line1\nline2 \"q\" é"},
		},
		"configmap-minimal": &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: "x"},
		},
		"secret": &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: "s", Labels: labels, Annotations: map[string]string{"note": "x"}},
			Data:       map[string][]byte{"bin": {0, 1, 2, 0xff, 0xfe}, "text": []byte("hello"), "empty": {}},
			StringData: map[string]string{"plain": "p"},
			Type:       corev1.SecretTypeOpaque,
			Immutable:  ptr(false),
		},
		"pod": &corev1.Pod{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{
				Name: "p", GenerateName: "p-", Namespace: "ns", Labels: labels,
				CreationTimestamp: ts, DeletionTimestamp: &ts, DeletionGracePeriodSeconds: ptr(int64(0)),
				Generation: 3, UID: "1234-5678", ResourceVersion: "42",
				Finalizers: []string{"example.com/f"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "u", Controller: ptr(true)}},
				ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1", Time: &ts,
					FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{".":{},"f:app":{}}}}`)}}},
			},
			Spec: podSpec,
			Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &ts, PodIP: "10.0.0.1",
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ts}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "web", Ready: true, RestartCount: 0, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ts}}}}},
		},
		"deployment": &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "default", Labels: labels},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr(int32(0)),
				Selector: &metav1.LabelSelector{MatchLabels: labels, MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"prod"}}}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}},
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr(intstr.FromString("25%")), MaxSurge: ptr(intstr.FromInt32(1))}},
				RevisionHistoryLimit: ptr(int32(10)),
				ProgressDeadlineSeconds: ptr(int32(600)),
			},
		},
		"service": &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: "svc"},
			Spec: corev1.ServiceSpec{
				Ports: []corev1.ServicePort{
					{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP},
					{Name: "named", Port: 443, TargetPort: intstr.FromString("https"), NodePort: 30443},
					{Port: 53},
				},
				Selector:  labels,
				Type:      corev1.ServiceTypeNodePort,
				ClusterIP: "",
				SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(10800))}},
			},
		},
		"role": &rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"},
			Rules: []rbacv1.PolicyRule{
				{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}},
				{Verbs: []string{"*"}, NonResourceURLs: []string{"/healthz"}},
			},
		},
		"rolebinding": &rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: "rb", Namespace: "ns"},
			Subjects:   []rbacv1.Subject{{Kind: "User", Name: "alice", APIGroup: "rbac.authorization.k8s.io"}, {Kind: "ServiceAccount", Name: "default", Namespace: "ns"}},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "r"},
		},
		"ssar": &authorizationv1.SelfSubjectAccessReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SelfSubjectAccessReview"},
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: "ns", Verb: "create", Resource: "pods", Group: ""}},
		},
		"sar-extra": &authorizationv1.SubjectAccessReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SubjectAccessReview"},
			Spec: authorizationv1.SubjectAccessReviewSpec{
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/api", Verb: "get"},
				User:                  "bob", Groups: []string{"g1", "g2"},
				Extra: map[string]authorizationv1.ExtraValue{"scopes": {"a", "b"}, "none": {}},
			},
		},
		"namespace": &corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: "team-a"},
		},
		"lease": &coordinationv1.Lease{
			TypeMeta:   metav1.TypeMeta{APIVersion: "coordination.k8s.io/v1", Kind: "Lease"},
			ObjectMeta: metav1.ObjectMeta{Name: "l", Namespace: "kube-node-lease"},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-1"), LeaseDurationSeconds: ptr(int32(40)),
				AcquireTime: &mt, RenewTime: &mt, LeaseTransitions: ptr(int32(0))},
		},
		"job": &batchv1.Job{
			TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
			ObjectMeta: metav1.ObjectMeta{Name: "j"},
			Spec: batchv1.JobSpec{Parallelism: ptr(int32(2)), Completions: ptr(int32(4)), BackoffLimit: ptr(int32(6)),
				ActiveDeadlineSeconds: ptr(int64(9007199254740993)), TTLSecondsAfterFinished: ptr(int32(0)),
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", "exit 0"}}}}}},
		},
		"cronjob": &batchv1.CronJob{
			TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
			ObjectMeta: metav1.ObjectMeta{Name: "cj"},
			Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", TimeZone: ptr("Etc/UTC"), Suspend: ptr(false),
				ConcurrencyPolicy: batchv1.ForbidConcurrent,
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}},
		},
		"node": &corev1.Node{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
			ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"kubernetes.io/hostname": "n1"}},
			Spec:       corev1.NodeSpec{PodCIDR: "10.244.0.0/24", PodCIDRs: []string{"10.244.0.0/24"}, Taints: []corev1.Taint{{Key: "t", Value: "v", Effect: corev1.TaintEffectNoExecute, TimeAdded: &ts}}},
			Status: corev1.NodeStatus{
				Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourcePods: resource.MustParse("110")},
				Allocatable: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("7Gi")},
				Addresses:   []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}},
				Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: ts}},
				NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: "v1.33.0", Architecture: "amd64"},
				Images:      []corev1.ContainerImage{{Names: []string{"nginx:1.27"}, SizeBytes: 1 << 40}},
			},
		},
		"ingress": &networkingv1.Ingress{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
			ObjectMeta: metav1.ObjectMeta{Name: "ing"},
			Spec: networkingv1.IngressSpec{IngressClassName: ptr("nginx"), Rules: []networkingv1.IngressRule{{Host: "a.example",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: ptr(networkingv1.PathTypePrefix),
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "svc", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}},
		},
		"deleteoptions": &metav1.DeleteOptions{
			TypeMeta:           metav1.TypeMeta{APIVersion: "v1", Kind: "DeleteOptions"},
			GracePeriodSeconds: ptr(int64(0)), PropagationPolicy: ptr(metav1.DeletePropagationForeground),
			Preconditions: &metav1.Preconditions{ResourceVersion: ptr("7")},
		},
		"statefulset": &appsv1.StatefulSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
			ObjectMeta: metav1.ObjectMeta{Name: "ss"},
			Spec: appsv1.StatefulSetSpec{ServiceName: "svc", Replicas: ptr(int32(3)),
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
					Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}}}}}},
		},
	}
}

func main() {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, rbacv1.AddToScheme,
		authorizationv1.AddToScheme, coordinationv1.AddToScheme, batchv1.AddToScheme, networkingv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	metav1.AddToGroupVersion(scheme, corev1.SchemeGroupVersion)
	ser := protobuf.NewSerializer(scheme, scheme)
	objs := objects()
	names := make([]string, 0, len(objs))
	for n := range objs {
		names = append(names, n)
	}
	// Stable order.
	for i := range names {
		for j := i + 1; j < len(names); j++ {
			if names[j] < names[i] {
				names[i], names[j] = names[j], names[i]
			}
		}
	}
	for _, n := range names {
		var buf bytes.Buffer
		if err := ser.Encode(objs[n], &buf); err != nil {
			fmt.Fprintln(os.Stderr, n, err)
			os.Exit(1)
		}
		// The reference JSON is that of the object decoded back from those
		// bytes, as kube-apiserver would hold it.
		back, gvk, err := ser.Decode(buf.Bytes(), nil, nil)
		if err != nil {
			panic(err)
		}
		back.GetObjectKind().SetGroupVersionKind(*gvk)
		js, err := json.Marshal(back)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s\t%s\t%s\n", n, base64.StdEncoding.EncodeToString(buf.Bytes()), js)
	}
}
