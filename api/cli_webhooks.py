"""`qc webhooks deliver`: send the webhook outbox from a process of its own.

Every server process already delivers (QC_WEBHOOK_DELIVERY); this is for servers run with it
off, and for sending what is due now (`--once`) from a script. Any number of deliverers may run
at once: each delivery is claimed with a lease, so none is sent by two of them at a time.
"""

import signal
import threading
from types import FrameType

import httpx
import typer

from api.db import get_engine, session_factory
from api.webhook_deliverer import run_deliverer
from qc.webhook_delivery import TIMEOUT_S, deliver_due

webhooks_app = typer.Typer(help="Webhooks: sending the outbox.", no_args_is_help=True)


@webhooks_app.command("deliver")
def deliver_command(
    once: bool = typer.Option(False, "--once", help="Deliver what is due now, then exit."),
    interval: float = typer.Option(1.0, min=0.1, max=60, help="Seconds between passes."),
) -> None:
    """Deliver due webhook events until interrupted (Ctrl-C or SIGTERM)."""
    sessions = session_factory(get_engine())
    if once:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client:
            run = deliver_due(sessions=sessions, client=client)
        typer.echo(
            f"{run.attempts} attempt(s): {run.delivered} delivered, {run.retrying} to retry, "
            f"{run.dead} dead."
        )
        return
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _stop)
    typer.echo("Delivering webhooks; Ctrl-C stops.", err=True)
    try:
        run_deliverer(sessions=sessions, stop=stop, interval_s=interval)
    except KeyboardInterrupt:
        stop.set()
    finally:
        signal.signal(signal.SIGTERM, previous)
    typer.echo("Stopped.", err=True)
