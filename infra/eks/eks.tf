module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "21.19.0"

  name               = var.name
  kubernetes_version = var.kubernetes_version

  vpc_id     = module.vpc.vpc_id
  subnet_ids = module.vpc.private_subnets

  # tofu installs the add-ons and Argo CD through the public endpoint, as the identity that created
  # the cluster (an admin access entry).
  endpoint_public_access                   = true
  endpoint_public_access_cidrs             = var.api_public_cidrs
  enable_cluster_creator_admin_permissions = true

  # Every workload that talks to AWS gets its role through EKS Pod Identity, none through IRSA.
  enable_irsa = false

  addons = {
    # enableNetworkPolicy: the VPC CNI enforces the chart's NetworkPolicies.
    vpc-cni = {
      before_compute       = true
      configuration_values = jsonencode({ enableNetworkPolicy = "true" })
    }
    eks-pod-identity-agent = { before_compute = true }
    kube-proxy             = {}
    coredns                = {}
    # The metrics API the service's HorizontalPodAutoscaler scales on.
    metrics-server = {}
    # The Redis and backup volumes (the gp3 StorageClass below).
    aws-ebs-csi-driver = {
      pod_identity_association = [{
        role_arn        = module.ebs_csi_pod_identity.iam_role_arn
        service_account = "ebs-csi-controller-sa"
      }]
    }
  }

  eks_managed_node_groups = {
    default = {
      ami_type       = "AL2023_x86_64_STANDARD"
      instance_types = var.node_instance_types
      min_size       = var.node_size.min
      desired_size   = var.node_size.desired
      max_size       = var.node_size.max
    }
  }
}

module "ebs_csi_pod_identity" {
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "2.8.1"

  name                      = "${var.name}-ebs-csi"
  attach_aws_ebs_csi_policy = true
}

# The default StorageClass, named as the eks values' redis.persistence.storageClass: encrypted gp3.
# Immediate binding: the backup PVC is first used by a CronJob pod hours after the sync, and a PVC
# left Pending keeps the Argo CD Application Progressing until then; the scheduler then places each
# pod in its volume's zone.
resource "kubernetes_storage_class_v1" "gp3" {
  metadata {
    name        = local.eks_values.redis.persistence.storageClass
    annotations = { "storageclass.kubernetes.io/is-default-class" = "true" }
  }
  storage_provisioner    = "ebs.csi.aws.com"
  volume_binding_mode    = "Immediate"
  reclaim_policy         = "Delete"
  allow_volume_expansion = true
  parameters = {
    type      = "gp3"
    encrypted = "true"
  }

  depends_on = [module.eks]
}
