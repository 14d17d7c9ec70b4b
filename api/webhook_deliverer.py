"""The deliverer loop of a process: a thread in each server (QC_WEBHOOK_DELIVERY), or the
foreground of `qc webhooks deliver`. Sending itself is qc.webhook_delivery."""

import logging
import threading

import httpx

from qc.webhook_delivery import TIMEOUT_S, Sessions, deliver_due

log = logging.getLogger("qc.webhooks")


def run_deliverer(*, sessions: Sessions, stop: threading.Event, interval_s: float = 1.0) -> None:
    """Deliver what is due every `interval_s` seconds until `stop` is set.

    An error (the database restarting, say) is logged and the loop goes on.
    """
    with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client:
        while not stop.is_set():
            try:
                deliver_due(sessions=sessions, client=client, stop=stop)
            except Exception:
                log.exception("webhook delivery failed; trying again in %s s", interval_s)
            stop.wait(interval_s)


class Deliverer:
    """`run_deliverer` on a daemon thread of its own, for a server process."""

    def __init__(self, sessions: Sessions, interval_s: float = 1.0) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=run_deliverer,
            kwargs={"sessions": sessions, "stop": self._stop, "interval_s": interval_s},
            name="qc-webhooks",
            daemon=True,  # a receiver hanging at shutdown must not keep the process alive
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 3 * TIMEOUT_S + 1) -> bool:
        """Stop after the current try; returns whether the thread ended within `timeout_s`."""
        self._stop.set()
        self._thread.join(timeout_s)
        return not self._thread.is_alive()
