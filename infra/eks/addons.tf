locals {
  lb_controller = { namespace = "kube-system", service_account = "aws-load-balancer-controller" }
}

module "lb_controller_pod_identity" {
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "2.8.1"

  name                            = "${var.name}-lb-controller"
  attach_aws_lb_controller_policy = true
  associations = {
    controller = merge(local.lb_controller, { cluster_name = module.eks.cluster_name })
  }
}

# The ALB of the chart's Ingress (className alb in the eks values). Installed first: its webhook
# must answer before any other chart creates a Service.
resource "helm_release" "aws_load_balancer_controller" {
  name       = "aws-load-balancer-controller"
  namespace  = local.lb_controller.namespace
  repository = "https://aws.github.io/eks-charts"
  chart      = "aws-load-balancer-controller"
  version    = "1.17.1"

  values = [yamlencode({
    clusterName    = module.eks.cluster_name
    region         = var.region
    vpcId          = module.vpc.vpc_id
    serviceAccount = { name = local.lb_controller.service_account }
  })]

  depends_on = [module.eks, module.lb_controller_pod_identity]
}

# Prometheus, Alertmanager and Grafana for the chart's ServiceMonitors, PrometheusRule and dashboard.
resource "helm_release" "kube_prometheus_stack" {
  # Its Prometheus selects ServiceMonitors and rules labelled release: <this name>, the label the
  # eks values give them.
  name = local.eks_values.servicemonitor.labels.release
  # The namespace the chart's NetworkPolicies let scrape (global.networkPolicy.metrics).
  namespace        = "monitoring"
  create_namespace = true
  repository       = "https://prometheus-community.github.io/helm-charts"
  chart            = "kube-prometheus-stack"
  version          = "88.5.3"
  timeout          = 900

  values = [yamlencode({
    # The dashboard ConfigMap lives in the app's namespace, its folder in an annotation.
    grafana = {
      sidecar = {
        dashboards = {
          searchNamespace  = "ALL"
          folderAnnotation = "grafana_folder"
          provider         = { foldersFromFilesStructure = true }
        }
      }
    }
    # EKS runs these out of reach: scraping them would only fire their Down alerts.
    kubeControllerManager = { enabled = false }
    kubeScheduler         = { enabled = false }
    kubeEtcd              = { enabled = false }
    kubeProxy             = { enabled = false }
  })]

  depends_on = [helm_release.aws_load_balancer_controller]
}
