#!/usr/bin/env bash
# Points the app's host name (domain_name) at its ALB with a Route 53 alias record, in the zone
# hosted_zone_id. Run after `tofu apply`: the AWS Load Balancer Controller makes the ALB only once
# Argo CD has synced the Ingress, so no plan knows its address. It waits for the Ingress whose host
# rule is domain_name to get one, then upserts the record and waits until Route 53 serves it; run it
# again if the Ingress (and so the ALB) is ever recreated. `delete` removes the record (destroy.sh
# does, before the ALB goes).
#
#   bash infra/eks/dns.sh [delete]
# Needs tofu (TOFU=<path> to use another), the aws CLI and, to upsert, kubectl, with the
# credentials of apply. Prints the app's URL.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tofu=${TOFU:-tofu}
timeout_s=${DNS_TIMEOUT:-1200} # how long to wait for the Ingress's ALB
poll_s=${DNS_POLL:-10}

fail() {
  echo "dns.sh: $1" >&2
  exit 1
}
need() {
  command -v "$1" >/dev/null || fail "$1 is needed: $2"
}
need "$tofu" "bash tools/build-go.sh opentofu (then TOFU=.tools/bin/tofu), or an OpenTofu release"
need aws "install the AWS CLI v2"

out() { "$tofu" -chdir="$here" output -raw "$1"; }

# Applies one change to the record of $domain and waits until Route 53 serves it.
change() {
  local id
  id=$(aws route53 change-resource-record-sets --hosted-zone-id "$zone" \
    --change-batch "{\"Changes\":[{\"Action\":\"$1\",\"ResourceRecordSet\":$2}]}" \
    --query ChangeInfo.Id --output text)
  aws route53 wait resource-record-sets-changed --id "$id"
}

domain=$(out domain_name 2>/dev/null) || domain=''
zone=$(out hosted_zone_id 2>/dev/null) || zone=''
[[ -n $domain && -n $zone ]] || fail "no domain_name or hosted_zone_id in the state: run tofu apply first"

case ${1:-upsert} in
upsert) ;;
delete)
  # Only the alias record (what this script makes); none: nothing to do.
  record=$(aws route53 list-resource-record-sets --hosted-zone-id "$zone" \
    --start-record-name "$domain." --start-record-type A --max-items 1 \
    --query "ResourceRecordSets[?Name=='$domain.' && Type=='A' && AliasTarget] | [0]" --output json)
  if [[ -z $record || $record == null ]]; then
    echo "no alias record of $domain in $zone: nothing to delete"
  else
    echo "deleting the alias record of $domain ..."
    change DELETE "$record"
  fi
  exit 0
  ;;
*) fail "usage: bash dns.sh [delete]" ;;
esac

need kubectl "install kubectl, e.g. bash tools/install.sh (.tools/bin/kubectl)"
cluster=$(out cluster_name)
region=$(out region)
namespace=$(out app_namespace)
kubeconfig=$(mktemp)
trap 'rm -f "$kubeconfig"' EXIT
aws eks update-kubeconfig --region "$region" --name "$cluster" --kubeconfig "$kubeconfig" >/dev/null
export KUBECONFIG=$kubeconfig

# The Ingress with the host rule domain_name (argocd.tf sets it), once the controller gave it its ALB.
deadline=$((SECONDS + timeout_s))
while :; do
  alb=$(kubectl -n "$namespace" get ingress -o \
    jsonpath="{.items[?(@.spec.rules[0].host==\"$domain\")].status.loadBalancer.ingress[0].hostname}")
  [[ -z $alb ]] || break
  ((SECONDS < deadline)) ||
    fail "no Ingress for $domain in $namespace has an ALB after ${timeout_s}s (is hit-counter-eks synced?)"
  echo "waiting for the ALB of the Ingress for $domain ..." >&2
  sleep "$poll_s"
done

alb_zone=$(aws elbv2 describe-load-balancers --region "$region" \
  --query "LoadBalancers[?DNSName=='$alb'].CanonicalHostedZoneId" --output text)
[[ $alb_zone =~ ^Z[0-9A-Z]+$ ]] || fail "no load balancer $alb in $region"

echo "pointing $domain at $alb ..." >&2
change UPSERT "{\"Name\":\"$domain\",\"Type\":\"A\",\"AliasTarget\":{\"HostedZoneId\":\"$alb_zone\",\"DNSName\":\"$alb\",\"EvaluateTargetHealth\":false}}"
echo "https://$domain/"
