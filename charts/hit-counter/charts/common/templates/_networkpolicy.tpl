{{- /* Peers and rules shared by every chart's NetworkPolicy. */ -}}

{{/* DNS egress (kube-dns / CoreDNS on port 53) for NetworkPolicies. */}}
{{- define "hc.dnsEgress" -}}
- to:
    - namespaceSelector: {}
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end -}}

{{/* Who may scrape metrics: the namespace and pod selectors from global.networkPolicy.metrics. */}}
{{- define "hc.metricsPeer" -}}
{{- $m := .Values.global.networkPolicy.metrics -}}
- namespaceSelector:
    {{- toYaml $m.namespaceSelector | nindent 4 }}
  podSelector:
    {{- toYaml $m.podSelector | nindent 4 }}
{{- end -}}
