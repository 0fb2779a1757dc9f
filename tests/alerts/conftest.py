"""The real alert receivers' fixtures (`tests.support.alert_receivers`) for this folder."""

from tests.support.alert_receivers import http_receiver, mosquitto, smtp_receiver

__all__ = ["http_receiver", "mosquitto", "smtp_receiver"]
