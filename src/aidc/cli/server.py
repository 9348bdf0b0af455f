"""`aidc server`: the API, the controller and (with --demo) a ready demo center."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from aidc.cli.output import fail, out
from aidc.core.validation import field_errors
from aidc.settings import Settings


def server(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    home: Annotated[Path | None, typer.Option(help="State folder (AIDC_HOME).")] = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL.")] = None,
    virtual_accelerators: Annotated[
        str | None, typer.Option(help="COUNTxTYPE, e.g. 4xa100, when the host has no GPUs.")
    ] = None,
    inventory: Annotated[Path | None, typer.Option(help="TOML file of pools and nodes.")] = None,
    cancel_grace: Annotated[
        float | None, typer.Option(help="Seconds from SIGTERM to SIGKILL.")
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
        "cancel_grace_s": cancel_grace,
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
    if settings.inventory is not None:
        from aidc.inventory.toml_file import InventoryError, load_inventory

        try:
            load_inventory(settings.inventory)
        except InventoryError as e:
            fail(f"--inventory: {e}")

    import uvicorn

    from aidc.api.app import create_app

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    url = f"http://{settings.host}:{settings.port}"

    def on_ready(running: object) -> None:
        from aidc.bootstrap import Running
        from aidc.services import demo as demo_service

        assert isinstance(running, Running)
        if settings.demo:
            users = demo_service.seed(running.center)
            path = settings.home / "demo-tokens.json"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"url": url, "users": [u.__dict__ for u in users]}, f, indent=1)
            first = next(u for u in users if u.project)
            out.print(f"\n[bold]aidc demo center[/] at {url}  (API docs: {url}/docs)")
            out.print(f"Tokens of all demo users: {path}")
            out.print(f"Log in as {first.username} ({first.role}, {first.organisation}):")
            out.print(f"  aidc login --url {url} --token {first.token}")
            out.print(
                f"  aidc submit -p {first.project} --gpus 1 -t 10m -- "
                "sh -c 'echo GPUs: $CUDA_VISIBLE_DEVICES'\n",
                markup=False,
            )
        out.print(f"aidc server ready at {url}")

    app = create_app(settings, on_ready=on_ready)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
