variable "name" {
  description = "Name prefix; queue <key> becomes <name>-<key> (FIFO: <name>-<key>.fifo) and its DLQ <name>-<key>-dlq[.fifo]."
  type        = string
}

variable "queues" {
  description = <<-EOT
    Queues to create, keyed by short name (e.g. inbound). Every queue gets a dead-letter queue.
      fifo                        FIFO queue (name gets the .fifo suffix, the DLQ is FIFO too)
      content_based_deduplication FIFO only: deduplicate on a SHA-256 of the body
      visibility_timeout_seconds  time a received message stays hidden
      max_receive_count           receives before a message is moved to the DLQ
      receive_wait_time_seconds   0 = short polling, 1..20 = long polling
      message_retention_seconds   retention of the queue and its DLQ
      delay_seconds               delivery delay
      max_message_size            bytes
  EOT
  type = map(object({
    fifo                        = optional(bool, false)
    content_based_deduplication = optional(bool, false)
    visibility_timeout_seconds  = optional(number, 30)
    max_receive_count           = optional(number, 5)
    receive_wait_time_seconds   = optional(number, 0)
    message_retention_seconds   = optional(number, 1209600)
    delay_seconds               = optional(number, 0)
    max_message_size            = optional(number, 262144)
  }))

  validation {
    condition     = alltrue([for k, _ in var.queues : can(regex("^[A-Za-z0-9_-]{1,60}$", k))])
    error_message = "Queue keys may contain only letters, digits, hyphens and underscores (no .fifo suffix: use fifo = true)."
  }

  validation {
    condition     = alltrue([for q in values(var.queues) : q.visibility_timeout_seconds >= 0 && q.visibility_timeout_seconds <= 43200])
    error_message = "visibility_timeout_seconds must be between 0 and 43200."
  }

  validation {
    condition     = alltrue([for q in values(var.queues) : q.max_receive_count >= 1 && q.max_receive_count <= 1000])
    error_message = "max_receive_count must be between 1 and 1000."
  }

  validation {
    condition     = alltrue([for q in values(var.queues) : q.receive_wait_time_seconds >= 0 && q.receive_wait_time_seconds <= 20])
    error_message = "receive_wait_time_seconds must be between 0 and 20."
  }

  validation {
    condition     = alltrue([for q in values(var.queues) : q.message_retention_seconds >= 60 && q.message_retention_seconds <= 1209600])
    error_message = "message_retention_seconds must be between 60 and 1209600 (14 days)."
  }

  validation {
    condition     = alltrue([for q in values(var.queues) : q.fifo || !q.content_based_deduplication])
    error_message = "content_based_deduplication is only valid on FIFO queues."
  }
}
