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
{{- include "tributary.securityEnv" . }}
{{- end -}}

{{/* Where the TLS Secret (tls.crt, tls.key, ca.crt) is mounted in every Tributary pod. */}}
{{- define "tributary.tlsDir" -}}
/etc/tributary/tls
{{- end -}}

{{/*
The security settings of every Tributary service (libs/runtime securityConfigShape): TLS with
the mounted Secret (the same certificate is presented to the other services: the services'
principal User:<CN>), SCRAM, the authorizer and the super users.
*/}}
{{- define "tributary.securityEnv" -}}
{{- if .Values.security.tls.enabled }}
- name: TRIBUTARY_TLS_CERT_FILE
  value: {{ include "tributary.tlsDir" . }}/tls.crt
- name: TRIBUTARY_TLS_KEY_FILE
  value: {{ include "tributary.tlsDir" . }}/tls.key
- name: TRIBUTARY_TLS_CA_FILE
  value: {{ include "tributary.tlsDir" . }}/ca.crt
- name: TRIBUTARY_TLS_CLIENT_AUTH
  value: {{ .Values.security.tls.clientAuth | quote }}
{{- end }}
{{- if .Values.security.sasl.enabled }}
- name: TRIBUTARY_SASL_ENABLED_MECHANISMS
  value: {{ .Values.security.sasl.mechanisms | quote }}
{{- end }}
{{- if .Values.security.authorizer.enabled }}
- name: TRIBUTARY_AUTHORIZER_ENABLE
  value: "true"
- name: TRIBUTARY_ALLOW_EVERYONE_IF_NO_ACL_FOUND
  value: {{ .Values.security.authorizer.allowEveryoneIfNoAclFound | quote }}
{{- end }}
{{- if .Values.security.superUsers }}
- name: TRIBUTARY_SUPER_USERS
  value: {{ .Values.security.superUsers | quote }}
{{- end }}
{{- end -}}

