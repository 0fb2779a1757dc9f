"""Configuration: one strict pydantic model per concept, loaded from one TOML file."""

from cashwatch.config.app import AppConfig, DashboardConfig, ManagerConfig
from cashwatch.config.camera import CameraConfig, CameraSettings
from cashwatch.config.cluster import RayConfig, StorageConfig
from cashwatch.config.detection import DetectionConfig, ModelConfig
from cashwatch.config.evidence import ClipConfig, RetentionConfig
from cashwatch.config.loader import (
    ConfigError,
    LoadedConfig,
    load_config,
    parse_config,
    resolve_config_path,
)
from cashwatch.config.zones import ZonesConfig

__all__ = [
    "AppConfig",
    "CameraConfig",
    "CameraSettings",
    "ClipConfig",
    "ConfigError",
    "DashboardConfig",
    "DetectionConfig",
    "LoadedConfig",
    "ManagerConfig",
    "ModelConfig",
    "RayConfig",
    "RetentionConfig",
    "StorageConfig",
    "ZonesConfig",
    "load_config",
    "parse_config",
    "resolve_config_path",
]
