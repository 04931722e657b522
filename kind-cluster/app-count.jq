# kind-cluster/app-count.jq — lab up --app-count N on rendered manifests (a List, or one
# object): the app Deployment runs $n replicas, whatever runs in it (fakeapp or your image).
(if .kind == "List" then . else {apiVersion: "v1", kind: "List", items: [.]} end)
| .items |= map(if .kind == "Deployment" and .metadata.name == "app" then .spec.replicas = $n else . end)
