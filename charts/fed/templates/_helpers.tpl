{{/*
Object names are fixed, as in manifests/: fedctl and fed-agent find the
Service fed-tunnel, the Secret fed-tunnel and the ServiceAccount by name.
*/}}

{{/* helm's standard labels, added to every object the chart templates. */}}
{{- define "fed.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: fed
{{- end -}}

{{/* The controller's Pods: the Deployment's selector, the Services'. */}}
{{- define "fed.selectorLabels" -}}
app.kubernetes.io/name: fed-controller
{{- end -}}

{{/* The controller's identity, as the admission policy sees it. */}}
{{- define "fed.serviceAccountUser" -}}
system:serviceaccount:{{ .Release.Namespace }}:fed-controller
{{- end -}}

{{- define "fed.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/*
--tunnel-sans: the controller's default subjectAltNames, plus the host of
tunnel.proxyPublishAddress (HOST:PORT, [IPv6]:PORT) as IP: or DNS:.
Empty when proxyPublishAddress is not set (the flag is left out).
*/}}
{{- define "fed.tunnelSans" -}}
{{- with .Values.tunnel.proxyPublishAddress -}}
{{- $addr := toString . -}}
{{- if not (regexMatch "^(\\[[0-9A-Fa-f:.]+\\]|[^:\\[\\]]+):[0-9]+$" $addr) -}}
{{- fail (printf "tunnel.proxyPublishAddress %q: use HOST:PORT or [IPv6]:PORT" $addr) -}}
{{- end -}}
{{- $host := regexReplaceAll ":[0-9]+$" $addr "" | trimPrefix "[" | trimSuffix "]" -}}
{{- $kind := "DNS" -}}
{{- if or (contains ":" $host) (regexMatch "^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$" $host) -}}
{{- $kind = "IP" -}}
{{- end -}}
DNS:fed-tunnel,DNS:localhost,IP:127.0.0.1,{{ $kind }}:{{ $host }}
{{- end -}}
{{- end -}}

{{- define "fed.validate" -}}
{{- if and (not .Values.leaderElection.enabled) (gt (int .Values.replicaCount) 1) -}}
{{- fail "leaderElection.enabled=false needs replicaCount=1: replicas without a leader would all act" -}}
{{- end -}}
{{- if and .Values.leaderElection.enabled (not .Values.leaderElection.leaseName) -}}
{{- fail "leaderElection.leaseName must not be empty" -}}
{{- end -}}
{{- end -}}
