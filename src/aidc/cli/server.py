"""`aidc server`: the API, the controller and (with --demo) a ready demo center."""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from aidc.cli.output import fail, fail_lines, out
from aidc.core.validation import field_errors
from aidc.settings import Settings

if TYPE_CHECKING:  # the server's heavy imports wait until `aidc server` runs
    from aidc.bootstrap import Running


def server(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    home: Annotated[Path | None, typer.Option(help="State folder (AIDC_HOME).")] = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL.")] = None,
    virtual_accelerators: Annotated[
        str | None, typer.Option(help="COUNTxTYPE, e.g. 4xa100, when the host has no GPUs.")
    ] = None,
    inventory: Annotated[Path | None, typer.Option(help="TOML file of pools and nodes.")] = None,
    policy: Annotated[
        Path | None,
        typer.Option(help="TOML scheduling policy; stored at start if it differs from the newest."),
    ] = None,
    cancel_grace: Annotated[
        float | None, typer.Option(help="Seconds from SIGTERM to SIGKILL.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="API worker processes (default 2); 1 runs API and controller in one process."
        ),
    ] = None,
    demo: Annotated[
        bool, typer.Option(help="Create demo organisations, users and tokens.")
    ] = False,
) -> None:
    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "home": home,
        "database_url": database_url,
        "virtual_accelerators": virtual_accelerators,
        "inventory": inventory,
        "policy_file": policy,
        "cancel_grace_s": cancel_grace,
        "workers": workers,
    }
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        fail("; ".join(f"{f}: {m}" for f, m in field_errors(e.errors())))
    if demo:
        settings.demo = True
        if settings.virtual_accelerators is None and settings.inventory is None:
            settings.virtual_accelerators = "4xa100"  # used only if NVML finds no GPUs
    if settings.virtual_accelerators:
        from aidc.inventory.host import parse_virtual_accelerators

        try:
            parse_virtual_accelerators(settings.virtual_accelerators)
        except ValueError as e:
            fail(f"--virtual-accelerators: {e}")

    if settings.policy_file is not None:
        _check_policy(settings.policy_file)

    from aidc import metrics_dir

    metrics_dir.prepare(settings.home)  # before prometheus_client is imported (aidc.metrics)
    import uvicorn

    from aidc import bootstrap
    from aidc.api.app import create_app
    from aidc.engines.registry import EngineConfigError
    from aidc.inventory.toml_file import InventoryError

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    url = f"http://{settings.host}:{settings.port}"
    _wait_for_port(settings.host, settings.port)
    role = bootstrap.Role.ALL if settings.workers == 1 else bootstrap.Role.CONTROLLER
    try:
        running = bootstrap.start(settings, role)
    except (InventoryError, EngineConfigError) as e:
        fail(f"--inventory: {e}")
    try:
        if settings.demo:
            _demo_banner(running, settings, url)
        out.print(f"aidc server ready at {url} ({settings.workers} API worker process(es))")
        common: dict[str, Any] = {
            "host": settings.host,
            "port": settings.port,
            "log_level": "warning",
            "access_log": False,
            # Longer than a loaded client leaves a pooled connection idle: at uvicorn's 5 s,
            # a request sent as the server closed its idle connection failed (ReadError).
            "timeout_keep_alive": 30,
        }
        if settings.workers == 1:
            uvicorn.run(create_app(settings, running), **common)
        else:
            # Workers are separate processes that read their settings from the environment.
            os.environ.update(settings.as_environment())
            uvicorn.run("aidc.api.app:worker_app", factory=True, workers=settings.workers, **common)
    finally:
        running.close()


def _check_policy(path: Path) -> None:
    """A bad policy file stops the server before it starts anything, naming each key."""
    from aidc.core.policy_text import PolicyError, loads

    try:
        loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        fail(f"--policy: cannot read {path}: {getattr(e, 'strerror', None) or e}")
    except PolicyError as e:
        fail_lines(f"--policy {path}: {field}: {message}" for field, message in e.fields)


def _wait_for_port(host: str, port: int, timeout_s: float = 10.0) -> None:
    """Wait for the port to be free: right after a crash, the old processes may still hold
    it for a moment. Fails with a clear message if something else keeps it."""
    deadline = time.monotonic() + timeout_s
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
                return
            except OSError as e:
                if e.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                    fail(f"--port: cannot listen on {host}:{port}: {e.strerror}", code=1)
        time.sleep(0.1)


def _demo_banner(running: Running, settings: Settings, url: str) -> None:
    from aidc.services import demo as demo_service

    users = demo_service.seed(running.center)
    path = settings.home / "demo-tokens.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(
            {
                "url": url,
                "password": demo_service.DEMO_PASSWORD,
                "users": [u.__dict__ for u in users],
            },
            f,
            indent=1,
        )
    first = next(u for u in users if u.project)
    out.print(f"\n[bold]aidc demo center[/] at {url}  (API docs: {url}/docs)")
    out.print(f"Tokens of all demo users: {path}")
    out.print(
        f"Web portal: {url}/portal/ (every demo user's password: {demo_service.DEMO_PASSWORD})",
        markup=False,
    )
    out.print(f"Log in as {first.username} ({first.role}, {first.organisation}):")
    # The token stays in the 0600 file: a server's output usually ends up in a log.
    out.print(
        f"  aidc login --url {url} --token \"$(python3 -c 'import json,sys; "
        f'print(json.load(open(sys.argv[1]))["users"][{users.index(first)}]["token"])\' '
        f'{path})"',
        markup=False,
    )
    out.print(
        f"  aidc submit -p {first.project} --gpus 1 -t 10m -- "
        "sh -c 'echo GPUs: $CUDA_VISIBLE_DEVICES'\n",
        markup=False,
    )
