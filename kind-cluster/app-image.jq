# kind-cluster/app-image.jq — your app instead of fakeapp (docs/byo-app.md), on rendered
# manifests (a List, or one object): the app Deployment runs $image with its own command and
# the app contract: PORT=3000, POD_NAME, MONGO_URI and, where the topology sets them,
# RELAY_URL and RELAY_TOKEN; fakeapp's own variables are dropped; /tmp is writable. The websockets are served
# on the HTTP port (the Service's ws port targets it); ready when $ready answers 2xx, alive
# while the port accepts connections. fakeapp's preStop `exec sleep 5` would fail in an image
# without a sleep binary (distroless, scratch): the pause before SIGTERM (so the ingress
# drops the pod's endpoint first) is the kubelet's own `preStop.sleep` when
# --argjson sleep_hook true (Kubernetes 1.30+), else there is no preStop hook at all.
(if .kind == "List" then . else {apiVersion: "v1", kind: "List", items: [.]} end)
| .items |= map(
    if .kind == "Deployment" and .metadata.name == "app" then
      # The root file system is read-only: /tmp is the one place an app may write (an
      # upload, a temporary file, a runtime's cache), as on any host.
      .spec.template.spec.volumes = ([(.spec.template.spec.volumes // [])[] | select(.name != "app-tmp")]
                                     + [{name: "app-tmp", emptyDir: {sizeLimit: "256Mi"}}])
      | .spec.template.spec.containers |= map(
        if .name == "app" then
          .image = $image
          | del(.command, .args)
          | .ports = [{name: "http", containerPort: 3000}]
          | .env = ([(.env // [])[] | select(.name | startswith("FAKEAPP_") | not)
                     | select(.name != "PORT")] + [{name: "PORT", value: "3000"}])
          | .volumeMounts = ([(.volumeMounts // [])[] | select(.mountPath != "/tmp")]
                             + [{name: "app-tmp", mountPath: "/tmp"}])
          | .readinessProbe.httpGet = {path: $ready, port: "http"}
          | .livenessProbe = {tcpSocket: {port: "http"}, initialDelaySeconds: 10,
                              periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3}
          | if ($ARGS.named.sleep_hook // false) then .lifecycle = {preStop: {sleep: {seconds: 5}}}
            else del(.lifecycle) end
        else . end)
    elif .kind == "Service" and .metadata.name == "app" then
      .spec.ports |= map(if .name == "ws" then .targetPort = "http" else . end)
    else . end)
