{{/*
Names, labels and images shared by the templates. Resource names are capped
at 63 characters (the DNS label limit that Services and labels impose).
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "layercache.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name: fullnameOverride, else RELEASE-NAME, or
RELEASE alone when it already contains the chart name.
*/}}
{{- define "layercache.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* NAME-SUFFIX, shortened so that it stays within 63 characters. */}}
{{- define "layercache.suffixed" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "layercache.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{- define "layercache.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "layercache.labels" -}}
helm.sh/chart: {{ include "layercache.chart" . }}
{{ include "layercache.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: layercache
{{- end }}

{{/* Labels that select the operator pods (immutable once installed). */}}
{{- define "layercache.selectorLabels" -}}
app.kubernetes.io/name: {{ include "layercache.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "layercache.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "layercache.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The ClusterRole holding config/rbac/role.yaml's rules (see hack/helm-sync.sh). */}}
{{- define "layercache.managerRoleName" -}}
{{- include "layercache.suffixed" (list . "manager") }}
{{- end }}

{{/* The Service in front of the webhook and /metrics. */}}
{{- define "layercache.serviceName" -}}
{{- include "layercache.fullname" . }}
{{- end }}

{{/* The Secret of the webhook's serving certificate (cert-manager mode). */}}
{{- define "layercache.webhookCertSecret" -}}
{{- include "layercache.suffixed" (list . "webhook-tls") }}
{{- end }}

{{- define "layercache.webhookCertificate" -}}
{{- include "layercache.suffixed" (list . "webhook") }}
{{- end }}

{{/* The Issuer of the webhook certificate: the values' issuerRef, else the chart's own. */}}
{{- define "layercache.issuerName" -}}
{{- default (include "layercache.suffixed" (list . "selfsigned")) .Values.webhook.certManager.issuerRef.name }}
{{- end }}

{{/* Where controller-runtime's webhook server reads tls.crt and tls.key. */}}
{{- define "layercache.webhookCertDir" -}}
/tmp/k8s-webhook-server/serving-certs
{{- end }}

{{/* REPOSITORY:TAG or REPOSITORY@DIGEST from a {repository, tag, digest} map; the tag defaults to appVersion. */}}
{{- define "layercache.imageRef" -}}
{{- $img := index . 0 }}
{{- $root := index . 1 }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default $root.Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{- define "layercache.image" -}}
{{- include "layercache.imageRef" (list .Values.image .) }}
{{- end }}

{{- define "layercache.agentImage" -}}
{{- include "layercache.imageRef" (list .Values.agent.image .) }}
{{- end }}

{{/* Fixed ports of cmd/manager (its flag defaults). */}}
{{- define "layercache.metricsPort" -}}8080{{- end }}
{{- define "layercache.probePort" -}}8081{{- end }}
{{- define "layercache.webhookPort" -}}9443{{- end }}
