{{- $env := include "argocd.environment" . | fromYaml -}}
{{- $namespace := dig "destination" "namespace" "" $env -}}
# The guard on the one cluster-scoped kind the AppProject permits. Argo CD v3.2's project lists
# match a group and kind, never a name, and CreateNamespace=true needs Namespace there; so a chart
# change rendering another Namespace would have Argo CD create or adopt it, and a later one prune
# it. This policy lets Argo CD's application controller create, change or delete the environment's
# namespace only. Rendered here, kept by the root.
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: {{ .Values.name }}-namespaces
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: ['']
        apiVersions: ['*']
        operations: [CREATE, UPDATE, DELETE]
        resources: [namespaces]
  matchConditions:
    - name: argocd-application-controller
      expression: {{ printf "request.userInfo.username == %q" (include "argocd.controllerUser" .) | quote }}
  validations:
    - expression: {{ printf "request.name == %q" $namespace | quote }}
      messageExpression: {{ printf "'Argo CD may create, change or delete only the namespace %s here, not ' + request.name" $namespace | quote }}
      reason: Forbidden
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {{ .Values.name }}-namespaces
spec:
  policyName: {{ .Values.name }}-namespaces
  validationActions: [Deny]
