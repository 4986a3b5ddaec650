# Zones a, b and c of the region, by name: the set cannot grow or shift when AWS adds or retires a
# zone (which would move the subnets).
data "aws_availability_zones" "available" {
  filter {
    name   = "zone-name"
    values = [for zone in ["a", "b", "c"] : "${var.region}${zone}"]
  }

  lifecycle {
    postcondition {
      condition     = length(self.names) == 3
      error_message = "${var.region} does not offer zones a, b and c to this account: choose another region."
    }
  }
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "6.6.0"

  name = var.name
  cidr = var.vpc_cidr
  azs  = data.aws_availability_zones.available.names

  # Nodes and pods in private subnets; only load balancers and the NAT gateways in public ones.
  private_subnets = [for i in range(3) : cidrsubnet(var.vpc_cidr, 4, i)]
  public_subnets  = [for i in range(3) : cidrsubnet(var.vpc_cidr, 8, 48 + i)]

  enable_nat_gateway     = true
  single_nat_gateway     = var.single_nat_gateway
  one_nat_gateway_per_az = !var.single_nat_gateway

  # Where the AWS Load Balancer Controller puts internet-facing and internal load balancers.
  public_subnet_tags  = { "kubernetes.io/role/elb" = 1 }
  private_subnet_tags = { "kubernetes.io/role/internal-elb" = 1 }
}
