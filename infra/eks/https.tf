# HTTPS at var.domain_name: the ACM certificate of the ALB's HTTPS listener, validated through DNS in
# the Route 53 zone var.hosted_zone_id. Its ARN reaches the Ingress's certificate-arn annotation
# through the eks Application's valuesObject (argocd.tf), taken from the validation so that the
# Ingress never names a certificate that is not issued yet (the listener would fail to attach it).
#
# The name itself, an alias record to the ALB, is made by dns.sh after apply: the AWS Load Balancer
# Controller creates the ALB only once Argo CD has synced the Ingress, so its address is not known
# to a plan. destroy.sh deletes that record again.

# The zone, read to find a wrong one at plan rather than after the validation's timeout.
data "aws_route53_zone" "app" {
  zone_id = var.hosted_zone_id

  lifecycle {
    postcondition {
      condition     = !self.private_zone && endswith(".${var.domain_name}", ".${trimsuffix(self.name, ".")}")
      error_message = "hosted_zone_id must be a public zone that holds domain_name: ${var.hosted_zone_id} is ${self.private_zone ? "the private zone" : "the zone"} ${self.name}."
    }
  }
}

resource "aws_acm_certificate" "app" {
  domain_name       = var.domain_name
  validation_method = "DNS"

  options {
    certificate_transparency_logging_preference = "ENABLED"
  }

  # A new name gets its certificate issued before the old one is released from the listener.
  lifecycle {
    create_before_destroy = true
  }
}

locals {
  # One name, no alternative names: one validation record.
  certificate_validation = one(aws_acm_certificate.app.domain_validation_options)
}

resource "aws_route53_record" "certificate_validation" {
  zone_id = data.aws_route53_zone.app.zone_id
  name    = local.certificate_validation.resource_record_name
  type    = local.certificate_validation.resource_record_type
  records = [local.certificate_validation.resource_record_value]
  ttl     = 300
  # ACM gives the same record to every certificate of the name (e.g. one from an earlier apply).
  allow_overwrite = true
}

# Waits until ACM has issued the certificate (a few minutes once the record resolves).
resource "aws_acm_certificate_validation" "app" {
  certificate_arn         = aws_acm_certificate.app.arn
  validation_record_fqdns = [aws_route53_record.certificate_validation.fqdn]
}
