{{/* Names and labels shared by every template. */}}

{{- define "pharos.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-pharos, or <release> when it already contains the chart name. */}}
{{- define "pharos.fullname" -}}
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

{{- define "pharos.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pharos.labels" -}}
helm.sh/chart: {{ include "pharos.chart" . }}
{{ include "pharos.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pharos
{{- end }}

{{- define "pharos.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pharos.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Operator pods. */}}
{{- define "pharos.operatorSelectorLabels" -}}
{{ include "pharos.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Probe pods (the operator puts these labels on the DaemonSets it creates). */}}
{{- define "pharos.probeSelectorLabels" -}}
{{ include "pharos.selectorLabels" . }}
app.kubernetes.io/component: probe
{{- end }}

{{- define "pharos.operatorServiceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-operator" (include "pharos.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "pharos.probeServiceAccountName" -}}
{{- if .Values.probe.serviceAccount.create }}
{{- default (printf "%s-probe" (include "pharos.fullname" .)) .Values.probe.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.probe.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "pharos.probeTokenSecretName" -}}
{{- default (printf "%s-probe-token" (include "pharos.fullname" .)) .Values.probeToken.existingSecret }}
{{- end }}

{{- define "pharos.probeTokenSecretKey" -}}
{{- if .Values.probeToken.existingSecret }}
{{- .Values.probeToken.existingSecretKey }}
{{- else -}}
token
{{- end }}
{{- end }}

{{- define "pharos.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "pharos.probeImage" -}}
{{- printf "%s:%s" .Values.probeImage.repository (default .Chart.AppVersion .Values.probeImage.tag) }}
{{- end }}

{{/* In-cluster URL of the operator (probe API, status page). */}}
{{- define "pharos.operatorUrl" -}}
{{- printf "http://%s.%s.svc:%d" (include "pharos.fullname" .) .Release.Namespace (int .Values.service.port) }}
{{- end }}

{{/*
Checks that values.schema.json cannot express; called from the Deployment so that every
`helm template`/`install` runs them.
*/}}
{{- define "pharos.validate" -}}
{{- $replicas := int .Values.replicaCount }}
{{- if and (gt $replicas 1) (not .Values.history.clickhouse.enabled) }}
{{- fail (printf "replicaCount=%d needs history.clickhouse.enabled=true: only one replica can own the SQLite history, so standby replicas share history through ClickHouse" $replicas) }}
{{- end }}
{{- if and (gt $replicas 1) .Values.persistence.enabled }}
{{- fail (printf "replicaCount=%d needs persistence.enabled=false: the SQLite volume is ReadWriteOnce and can be mounted by one replica only (history lives in ClickHouse)" $replicas) }}
{{- end }}
{{- if and .Values.history.clickhouse.enabled (not .Values.history.clickhouse.url) }}
{{- fail "history.clickhouse.enabled=true needs history.clickhouse.url, e.g. http://clickhouse.analytics:8123" }}
{{- end }}
{{- $seen := dict }}
{{- range $i, $region := .Values.regions }}
{{- if hasKey $seen $region.name }}
{{- fail (printf "regions[%d].name %q is used twice: region names must be unique" $i $region.name) }}
{{- end }}
{{- $_ := set $seen $region.name true }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (kindIs "invalid" .Values.podDisruptionBudget.minAvailable) (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable) }}
{{- fail "podDisruptionBudget.enabled=true needs maxUnavailable or minAvailable" }}
{{- end }}
{{- end }}
