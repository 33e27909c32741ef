import json
L=[]
def reset(av,k): L.append(f"RESET\t{av}\t{k}")
def op(o,m,obj,force=False): L.append(f"{o}\t{m}\t{'force' if force else 'no'}\t{json.dumps(obj)}")
cm=lambda data,**kw: dict({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default"},"data":data},**kw)
# 1 apply create, re-apply change, remove key
reset("v1","ConfigMap")
op("APPLY","kubectl",cm({"a":"1","b":"2"}))
op("APPLY","kubectl",cm({"a":"1","b":"3"}))
op("APPLY","kubectl",cm({"a":"1"}))
# conflict with another applier, then force
op("APPLY","other",cm({"a":"9"}))
op("APPLY","other",cm({"a":"9"}),True)
op("APPLY","kubectl",cm({"c":"1"}))
# 2 update then apply conflict
reset("v1","ConfigMap")
op("APPLY","kubectl",cm({"x":"1"}))
op("UPDATE","kubectl-client-side-apply",cm({"x":"1","a":"1","b":"2"}))
op("APPLY","kubectl",cm({"a":"2","b":"3","x":"1"}))
op("APPLY","kubectl",cm({"a":"1","x":"1"}))
op("UPDATE","kubectl-edit",cm({"x":"5"}))
# 3 labels + annotations
reset("v1","ConfigMap")
op("APPLY","a",{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"app":"x","tier":"y"},"annotations":{"n":"1"}}})
op("APPLY","b",{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"team":"z"}}})
op("APPLY","a",{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"app":"x"}}})
op("APPLY","b",{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"app":"w"}}})
# 4 deployment with containers
dep=lambda cs,**kw: {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":dict({"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":cs}}},**kw)}
reset("apps/v1","Deployment")
op("APPLY","kubectl",dep([{"name":"web","image":"nginx:1","ports":[{"containerPort":80}]},{"name":"side","image":"busybox","env":[{"name":"A","value":"1"}]}],replicas=2))
op("APPLY","kubectl",dep([{"name":"web","image":"nginx:2","ports":[{"containerPort":80},{"containerPort":443}]}],replicas=2))
op("APPLY","hpa",{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":5}})
op("APPLY","hpa",{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":5}},True)
op("APPLY","sidecar",dep([{"name":"log","image":"fluent"}]))
op("APPLY","kubectl",dep([{"name":"new","image":"x"},{"name":"web","image":"nginx:2"}]))
# 6 service ports keyed by port+protocol
reset("v1","Service")
svc=lambda ps: {"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"selector":{"app":"x"},"ports":ps}}
op("APPLY","kubectl",svc([{"port":80,"targetPort":8080},{"port":53,"protocol":"UDP"}]))
op("APPLY","kubectl",svc([{"port":53,"protocol":"UDP"}]))
# 7 pod finalizers set + tolerations atomic
reset("v1","Pod")
pod=lambda **kw: {"apiVersion":"v1","kind":"Pod","metadata":dict({"name":"p"},**kw.get("meta",{})),"spec":dict({"containers":[{"name":"c","image":"i"}]},**kw.get("spec",{}))}
op("APPLY","a",pod(meta={"finalizers":["x","y"]},spec={"tolerations":[{"key":"k","operator":"Exists"}]}))
op("APPLY","b",pod(meta={"finalizers":["z"]}))
op("APPLY","a",pod(meta={"finalizers":["x"]}))
op("APPLY","b",pod(spec={"tolerations":[{"key":"q"}]}))
# 9 shared list items between appliers, one stops applying the item
reset("apps/v1","Deployment")
op("APPLY","m1",dep([{"name":"web","image":"nginx:1"}]))
op("APPLY","m2",dep([{"name":"web","resources":{"limits":{"cpu":"1"}}}]))
op("APPLY","m1",dep([{"name":"other","image":"o"}]))
# 10 an update removes a field the applier owned; same-value applies share ownership
reset("v1","ConfigMap")
op("APPLY","a",cm({"k1":"1","k2":"2"}))
op("UPDATE","editor",cm({"k1":"1"}))
op("APPLY","b",cm({"k1":"1"}))
op("APPLY","b",cm({"k1":"9"}))
# 11 conflicts with two managers at once
reset("v1","ConfigMap")
op("APPLY","a",cm({"x":"1"}))
op("UPDATE","u1",cm({"x":"1","y":"1"}))
op("APPLY","c",cm({"x":"2","y":"2"}))
op("APPLY","c",cm({"x":"2","y":"2"}),True)
# 12 ports keyed by containerPort+protocol, force over an update of a list item field
reset("v1","Pod")
op("APPLY","a",pod(spec={"containers":[{"name":"c","image":"i","ports":[{"containerPort":53,"protocol":"UDP"},{"containerPort":53}]}]}))
op("UPDATE","kubectl-set",{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"j","ports":[{"containerPort":53,"protocol":"UDP"},{"containerPort":53}]}]}})
op("APPLY","a",pod(spec={"containers":[{"name":"c","image":"k","ports":[{"containerPort":53,"protocol":"UDP"}]}]}))
op("APPLY","a",pod(spec={"containers":[{"name":"c","image":"k","ports":[{"containerPort":53,"protocol":"UDP"}]}]}),True)
open("/work/main/tests/apply/reference/cases.tsv","w").write("\n".join(L)+"\n")
