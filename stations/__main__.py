"""`qc-station` (or `python -m stations`): run the bench agent, or check its camera.

qc-station run [--config bench.toml]     scanner, camera and scale in; answers on screen
qc-station check [--camera SPEC]         the camera's size, frame rate and the codes it sees
"""

import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from stations import config
from stations.client import Client, Offline, Refused
from stations.outbox import Outbox
from stations.plain import PlainScreen
from stations.runner import Agent
from stations.screen import Screen

app = typer.Typer(help="The packing bench's agent.", no_args_is_help=True)
ConfigOption = Annotated[Path | None, typer.Option("--config", help="A TOML settings file.")]


def _screen(settings: config.StationSettings) -> Screen:
    if settings.screen == "plain" or (settings.screen == "auto" and not sys.stdout.isatty()):
        return PlainScreen()
    from stations.screen import Sounds, TerminalScreen

    return TerminalScreen(sounds=Sounds(settings.data_dir / "sounds", enabled=settings.sound))


def _devices(settings: config.StationSettings, agent: Agent, stop: threading.Event) -> list[object]:
    """Start the scanner, scale and camera threads; return what must be stopped at the end."""
    from stations import scanner

    started: list[object] = []
    if settings.scanner == "stdin":
        reader = threading.Thread(
            target=scanner.read_wedge,
            args=(sys.stdin, agent.emit, stop),
            kwargs={"gs_substitute": settings.gs_substitute},
            name="qc-scanner",
            daemon=True,
        )
        reader.start()
    elif settings.scanner != "none":
        device = scanner.SerialScanner.from_port(
            settings.scanner, settings.scanner_baud, gs_substitute=settings.gs_substitute
        )
        threading.Thread(target=device.run, args=(agent.emit, stop), daemon=True).start()
    if settings.scale not in ("none", "typed"):
        from stations.scale import SerialScale

        scale = SerialScale.from_port(settings.scale, settings.scale_baud)
        threading.Thread(target=scale.run, args=(agent.emit, stop), daemon=True).start()
    if agent.camera is not None:
        from stations.camera import Camera

        if isinstance(agent.camera, Camera):
            agent.camera.start()
            started.append(agent.camera)
    return started


@app.command()
def run(config_file: ConfigOption = None) -> None:
    """Run the bench: every scan is kept in the outbox until the server has it."""
    settings = config.load(config_file)
    if not settings.key:
        typer.echo("Set the station key: QC_STATION_KEY or `key` in the config file.", err=True)
        raise typer.Exit(2)
    client = Client(settings.server_url, settings.key)
    try:
        who = client.me()
        if who.get("kind") != "station":
            typer.echo("That key is not a station's key (qc station add CODE).", err=True)
            raise typer.Exit(2)
        station = str(who["name"])
    except Offline:
        station = "bench"  # the server is away: start anyway, on the outbox
    except Refused as refused:
        typer.echo(f"The server refused the key: {refused.detail}", err=True)
        raise typer.Exit(2) from None
    outbox = Outbox(settings.data_dir / "outbox.db", station=station)
    screen = _screen(settings)
    agent = Agent(settings=settings, client=client, outbox=outbox, screen=screen)
    if settings.camera:
        from stations.camera import Camera, FrameSource, open_source

        def opened() -> FrameSource:
            return open_source(settings.camera, realtime=settings.camera_realtime)

        agent.camera = Camera(opened(), emit=agent.emit, reopen=opened)
    stop = threading.Event()
    devices = _devices(settings, agent, stop)
    getattr(screen, "start", lambda: None)()  # a terminal screen takes the terminal over
    agent.start()
    try:
        agent.run()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for device in devices:
            getattr(device, "stop", lambda: None)()
        agent.stop()
        getattr(screen, "stop", lambda: None)()
        outbox.close()
        client.close()


@app.command()
def check(
    config_file: ConfigOption = None,
    camera: Annotated[str | None, typer.Option(help="Default: the configured camera.")] = None,
    seconds: Annotated[float, typer.Option(min=0.5, help="How long to watch.")] = 3.0,
) -> None:
    """Print the camera's resolution and frame rate, and the codes it sees."""
    from stations.check import describe, format_report

    spec = camera or config.load(config_file).camera
    if not spec:
        typer.echo("No camera configured: pass --camera (0, a URL, a file or a folder).", err=True)
        raise typer.Exit(2)
    try:
        typer.echo(format_report(describe(spec, seconds=seconds)))
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


def main() -> None:
    app()


if __name__ == "__main__":
    main()
