{{- define "berth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "berth.fullname" -}}
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

{{- define "berth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "berth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "berth.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "berth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "berth.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "berth.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "berth.secretName" -}}
{{- default (include "berth.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* Which credentials the configuration needs, as Secret keys. */}}
{{- define "berth.builtinAuth" -}}
{{- has "builtin" (splitList "," (.Values.auth.mode | nospace)) }}
{{- end }}

{{/* Refuses combinations that cannot work. */}}
{{- define "berth.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (or (ne .Values.database.driver "postgres") (ne .Values.storage.driver "s3")) }}
{{- fail "replicaCount > 1 needs database.driver: postgres and storage.driver: s3 (SQLite and filesystem blobs belong to one instance)" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) .Values.persistence.enabled (has "ReadWriteOnce" .Values.persistence.accessModes) }}
{{- fail "replicaCount > 1 with a ReadWriteOnce volume: set persistence.enabled: false (state is in PostgreSQL and S3)" }}
{{- end }}
{{- if not (has .Values.database.driver (list "sqlite" "postgres")) }}
{{- fail "database.driver: sqlite or postgres" }}
{{- end }}
{{- if not (has .Values.storage.driver (list "filesystem" "s3")) }}
{{- fail "storage.driver: filesystem or s3" }}
{{- end }}
{{- if not .Values.existingSecret }}
{{- if and (eq .Values.database.driver "postgres") (not .Values.database.postgres.dsn) }}
{{- fail "database.postgres.dsn (or existingSecret with database-dsn) is required with database.driver: postgres" }}
{{- end }}
{{- if and (eq (include "berth.builtinAuth" .) "true") (not .Values.auth.adminPassword) }}
{{- fail "auth.adminPassword (or existingSecret with admin-password) is required with auth.mode builtin" }}
{{- end }}
{{- end }}
{{- if and (eq .Values.storage.driver "s3") (not .Values.storage.s3.bucket) }}
{{- fail "storage.s3.bucket is required with storage.driver: s3" }}
{{- end }}
{{- end }}

{{/* berth.yaml: what the values say, then .Values.config over it. Secrets are not in it: they come from the Secret as BERTH_* variables. */}}
{{- define "berth.config" -}}
{{- $c := dict "version" 1 "http" (dict "addr" (printf ":%d" (int .Values.service.port))) -}}
{{- $_ := set $c "auth" (dict "mode" .Values.auth.mode "admin" (dict "username" .Values.auth.adminUsername)) -}}
{{- $db := dict "driver" .Values.database.driver -}}
{{- if eq .Values.database.driver "postgres" }}
{{- $_ := set $db "postgres" (dict "max_conns" (int .Values.database.postgres.maxConns)) -}}
{{- end }}
{{- $_ := set $c "database" $db -}}
{{- $st := dict "driver" .Values.storage.driver -}}
{{- if eq .Values.storage.driver "s3" }}
{{- $s3 := .Values.storage.s3 -}}
{{- $_ := set $st "s3" (dict "bucket" $s3.bucket "region" $s3.region "endpoint" $s3.endpoint "public_endpoint" $s3.publicEndpoint "path_style" $s3.pathStyle) -}}
{{- $_ := set $st "redirect" (dict "enabled" .Values.storage.redirect.enabled) -}}
{{- end }}
{{- $_ := set $c "storage" $st -}}
{{- toYaml (mustMergeOverwrite $c (deepCopy .Values.config)) }}
{{- end }}
