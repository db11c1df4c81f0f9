output "alb_arn" {
  description = "ARN of the ALB."
  value       = aws_lb.this.arn
}

output "alb_arn_suffix" {
  description = "ARN suffix of the ALB (CloudWatch LoadBalancer dimension)."
  value       = aws_lb.this.arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the ALB."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Route53 zone of the ALB DNS name."
  value       = aws_lb.this.zone_id
}

# Published only once the HTTPS listener forwards to it: ECS refuses a service whose
# target group is not attached to a load balancer yet.
output "target_group_arn" {
  description = "ARN of the API target group."
  value       = aws_lb_target_group.api.arn
  depends_on  = [aws_lb_listener.https]
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the API target group (CloudWatch TargetGroup dimension)."
  value       = aws_lb_target_group.api.arn_suffix
}

output "http_listener_arn" {
  description = "ARN of the :80 listener (redirect to HTTPS)."
  value       = aws_lb_listener.http.arn
}

output "https_listener_arn" {
  description = "ARN of the :443 listener."
  value       = aws_lb_listener.https.arn
}

output "certificate_arn" {
  description = "ARN of the validated ACM certificate of the API hostname."
  value       = aws_acm_certificate_validation.api.certificate_arn
}

output "api_url" {
  description = "Public URL of the API."
  value       = "https://${var.api_hostname}"
}

output "web_acl_arn" {
  description = "ARN of the WAF web ACL (null when disabled)."
  value       = one(aws_wafv2_web_acl.this[*].arn)
}
