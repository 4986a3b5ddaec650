{{- /* Every object of .Values.manifests, unchanged. (A .tpl file: helm renders it like any
template; YAML formatters leave its template syntax alone.) */ -}}
{{- range .Values.manifests }}
---
{{ toYaml . }}
{{- end }}
