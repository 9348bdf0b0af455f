"""The one settings object: environment variables ``AIDC_*``; every default works offline."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    """A server run as root isolates jobs as other users (engines/local_identity.py), who
    must pass through the home's parents: root's own home folder is 0700, /var/lib is not."""
    return Path("/var/lib/aidc") if os.geteuid() == 0 else Path.home() / ".aidc"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIDC_", extra="ignore")

    home: Path = Field(
        default_factory=lambda: default_home(),
        description="Where state lives; default ~/.aidc, or /var/lib/aidc for root.",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite at <home>/aidc.db."
    )
    host: str = "127.0.0.1"
    port: int = 8080
    virtual_accelerators: str | None = Field(
        default=None, description="COUNTxTYPE, e.g. 4xa100, for a host without GPUs."
    )
    inventory: Path | None = Field(default=None, description="TOML file of pools and nodes.")
    policy_file: Path | None = Field(
        default=None,
        description="TOML scheduling policy, stored at start if it differs from the newest.",
    )
    cancel_grace_s: float = Field(default=10.0, gt=0, le=3600)
    tick_s: float = Field(default=0.5, gt=0, le=60)
    engine_lost_after_s: float = Field(
        default=120.0,
        gt=0,
        description="How long an engine may not answer before its jobs are recorded LOST.",
    )
    inventory_every_s: float = Field(
        default=30.0, gt=0, description="How often engines' node inventories are re-read."
    )
    meter_every_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How often running jobs and capacity are metered into the usage ledger "
        "(and allocations started or expired); runs are also metered when they end.",
    )
    api_threads: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="Threads per API worker; default 1 on SQLite (one writer anyway), else 2.",
    )
    workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="API worker processes; 1 runs API and controller in one process.",
    )
    traces_dir: Path | None = Field(
        default=None,
        description="Trace files operators may simulate by name; default <home>/traces.",
    )
    simulations_dir: Path | None = Field(
        default=None, description="Simulation results and reports; default <home>/simulations."
    )
    datasets_url: str | None = Field(
        default=None,
        description="Dataset storage: a folder, file:// or s3://bucket/prefix; "
        "default <home>/datasets.",
    )
    datasets_s3_endpoint: str | None = Field(
        default=None, description="Endpoint of an S3-compatible store (e.g. http://minio:9000)."
    )
    dataset_cache_dir: Path | None = Field(
        default=None,
        description="Verified local copies of datasets read from an object store, which "
        "jobs' views link to; on a Slurm or Ray cluster a folder every node shares. "
        "Default <home>/dataset-cache.",
    )
    upload_expire_s: float = Field(
        default=24 * 3600.0,
        gt=0,
        description="An upload not committed this long after it began is dropped "
        "(its staged bytes deleted, its quota released).",
    )
    default_org_storage_gb: float = Field(
        default=10.0,
        ge=0,
        description="Dataset storage of an organisation without an active allocation.",
    )
    notebook_idle_s: float = Field(
        default=3600.0,
        ge=0,
        description="Notebook sessions without kernel or terminal activity this long are "
        "stopped (0: never); a session may ask for less.",
    )
    notebook_check_s: float = Field(
        default=60.0, gt=0, description="How often the controller checks sessions for idleness."
    )
    notebook_python: str | None = Field(
        default=None,
        description="The Python with jupyterlab that sessions run (default: the server's).",
    )
    validation_harness: str | None = Field(
        default=None,
        description="The command validation jobs run (split like a shell line; default: "
        "the server's Python -m aidc.validation.harness).",
    )
    max_queued_per_user: int | None = Field(
        default=None, ge=1, description="Queued jobs one user may have at once (none: no cap)."
    )
    max_body_bytes: int = Field(
        default=80 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted (413 beyond); room for a 64 MiB trace.",
    )
    demo: bool = False
    log_level: str = "info"

    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'aidc.db'}"

    def traces_path(self) -> Path:
        return self.traces_dir or self.home / "traces"

    def simulations_path(self) -> Path:
        return self.simulations_dir or self.home / "simulations"

    def as_environment(self) -> dict[str, str]:
        """These settings as ``AIDC_*`` variables, for worker processes to read back."""
        return {
            f"AIDC_{name.upper()}": str(value)
            for name, value in self.model_dump().items()
            if value is not None
        }

    def worker_threads(self) -> int:
        # Measured (docs/benchmarks.md): more threads per process only added GIL hand-offs;
        # concurrency comes from worker processes instead.
        return self.api_threads or (1 if self.db_url().startswith("sqlite") else 2)
