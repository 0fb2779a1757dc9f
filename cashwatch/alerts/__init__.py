"""Alerts: events routed to webhooks, MQTT brokers and e-mail through a durable outbox."""
