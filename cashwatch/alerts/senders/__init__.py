"""The kinds of alert target: webhook, MQTT, e-mail."""
