#!/usr/bin/env bash
# Destroys what infra/eks created, in the order that leaves nothing behind in AWS:
#   1. the host name's alias record to the ALB (dns.sh delete; dns.sh made it, outside tofu);
#   2. Argo CD's Applications (and ApplicationSets): their finalizer deletes what they deployed;
#   3. every Ingress and LoadBalancer Service left, and every PersistentVolumeClaim;
#   4. waits until AWS shows no load balancer, target group or controller security group in the
#      VPC, and the cluster no PersistentVolume (their EBS volumes deleted);
#   5. tofu destroy.
# A plain `tofu destroy` would remove the AWS Load Balancer Controller and Argo CD first and leave
# the ALB, its target groups and security groups behind, which then block deleting the VPC (and
# the ALB's HTTPS listener keeps the ACM certificate in use, which blocks deleting it).
#
#   bash infra/eks/destroy.sh [tofu destroy options, e.g. -auto-approve]
# Needs tofu (TOFU=<path> to use another), the aws CLI and kubectl, with the credentials of apply.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tofu=${TOFU:-tofu}
timeout_s=${DESTROY_TIMEOUT:-1200} # how long to wait for AWS to delete what the cluster made
poll_s=${DESTROY_POLL:-10}

fail() {
  echo "destroy.sh: $1" >&2
  exit 1
}
need() {
  command -v "$1" >/dev/null || fail "$1 is needed: $2"
}
need "$tofu" "bash tools/build-go.sh opentofu (then TOFU=.tools/bin/tofu), or an OpenTofu release"
need aws "install the AWS CLI v2"
need kubectl "install kubectl, e.g. bash tools/install.sh (.tools/bin/kubectl)"

out() { "$tofu" -chdir="$here" output -raw "$1"; }

# Prints what is still there (one line each) until nothing is; fails after $timeout_s seconds.
wait_gone() {
  local what=$1 left deadline=$((SECONDS + timeout_s))
  shift
  while :; do
    left=$("$@") || fail "could not list $what"
    [[ -n $left ]] || return 0
    ((SECONDS < deadline)) || fail "still there after ${timeout_s}s, $what: $left"
    echo "waiting for the deletion of $what: $(wc -w <<<"$left") left"
    sleep "$poll_s"
  done
}

if domain=$(out domain_name 2>/dev/null) && [[ -n $domain ]]; then
  TOFU=$tofu bash "$here/dns.sh" delete
fi

if cluster=$(out cluster_name 2>/dev/null) && region=$(out region) && vpc=$(out vpc_id) &&
  aws eks describe-cluster --region "$region" --name "$cluster" >/dev/null 2>&1; then
  argocd=$(out argocd_namespace)
  kubeconfig=$(mktemp)
  trap 'rm -f "$kubeconfig"' EXIT
  aws eks update-kubeconfig --region "$region" --name "$cluster" --kubeconfig "$kubeconfig" >/dev/null
  export KUBECONFIG=$kubeconfig

  echo "deleting Argo CD's ApplicationSets and Applications (and what they deployed) ..."
  if kubectl get crd applications.argoproj.io >/dev/null 2>&1; then
    kubectl -n "$argocd" delete applicationsets.argoproj.io --all --wait --timeout=5m
    kubectl -n "$argocd" delete applications.argoproj.io --all --wait --timeout=15m
  fi

  echo "deleting every Ingress, LoadBalancer Service and PersistentVolumeClaim left ..."
  kubectl delete ingress --all-namespaces --all --wait --timeout=10m
  kubectl get services --all-namespaces -o \
    jsonpath='{range .items[?(@.spec.type=="LoadBalancer")]}{.metadata.namespace}{" "}{.metadata.name}{"\n"}{end}' |
    while read -r ns name; do kubectl -n "$ns" delete service "$name" --wait --timeout=10m; done
  kubectl delete pvc --all-namespaces --all --wait --timeout=10m

  wait_gone "load balancers in $vpc" aws elbv2 describe-load-balancers --region "$region" \
    --query "LoadBalancers[?VpcId=='$vpc'].LoadBalancerName" --output text
  wait_gone "target groups in $vpc" aws elbv2 describe-target-groups --region "$region" \
    --query "TargetGroups[?VpcId=='$vpc'].TargetGroupName" --output text
  wait_gone "the load balancer controller's security groups" aws ec2 describe-security-groups \
    --region "$region" --filters "Name=vpc-id,Values=$vpc" "Name=tag-key,Values=elbv2.k8s.aws/cluster" \
    --query 'SecurityGroups[].GroupId' --output text
  wait_gone "persistent volumes (EBS)" kubectl get pv -o name
else
  echo "no cluster in the state (or it is gone already): straight to tofu destroy"
fi

"$tofu" -chdir="$here" destroy "$@"
