{{/*
Helpers of the Tributary chart. Templates keep to a small Go-template subset (values,
if/else, include, toYaml, nindent, indent, quote, .Files.Get) so that tools/observability can
render them without a helm binary and check them against deploy/k8s.
*/}}

{{/* Base name of every object: the release name, with "-tributary" unless it says tributary already. */}}
{{- define "tributary.fullname" -}}
{{- if contains "tributary" .Release.Name -}}
{{ .Release.Name }}
{{- else -}}
{{ .Release.Name }}-tributary
{{- end -}}
{{- end -}}

{{/* Labels common to every object (the component label is added by each template). */}}
{{- define "tributary.labels" -}}
app.kubernetes.io/name: tributary
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: tributary
{{- end -}}

{{/* The Tributary image. */}}
{{- define "tributary.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{/* host:port of the coordination service. */}}
{{- define "tributary.coordination" -}}
{{ include "tributary.fullname" . }}-coordination:{{ .Values.coordination.ports.grpc }}
{{- end -}}

{{/* Broker bootstrap address: the brokers' ClusterIP Service (Metadata lists every broker). */}}
{{- define "tributary.bootstrap" -}}
{{ include "tributary.fullname" . }}-broker:{{ .Values.broker.ports.grpc }}
{{- end -}}

{{/* ZooKeeper connection string: the ensemble's client Service, or the external one. */}}
{{- define "tributary.zookeeperConnect" -}}
{{- if .Values.zookeeper.enabled -}}
{{ include "tributary.fullname" . }}-zookeeper:2181
{{- else -}}
{{ .Values.zookeeper.externalConnect }}
{{- end -}}
{{- end -}}

{{/* Pod-level settings shared by the Tributary pods: pull secrets and the security context. */}}
{{- define "tributary.podSettings" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- if .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml .Values.imagePullSecrets | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Environment every Tributary container gets: its pod's name, namespace and IP, and the log level. */}}
{{- define "tributary.commonEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: TRIBUTARY_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- end -}}
