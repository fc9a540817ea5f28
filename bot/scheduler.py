"""The scheduled jobs, with APScheduler, in the bot's own process.

- the daily digest at ``HUB_REMINDER_TIME`` in ``HUB_TIMEZONE``;
- a make-up run at start when today's time has passed and today's digest
  was not sent (the hub's claim makes it once per centre and day anyway);
- retries of digest deliveries that failed, and of outbox emails;
- expiry of idle conversations, old tokens, link codes and digest records.

APScheduler's default ``misfire_grace_time`` is one second, so a daily job a
little late would be skipped silently: ours allow a late run all day and
coalesce repeats. Each scheduler has its own memory job store; the durable
record of what was sent is the hub's, not the scheduler's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.config import Config
from bot.reminders import DigestReport, DigestSender, local_day
from hub import Hub
from hub.outbox import forget_bodies

log = logging.getLogger(__name__)
DAY = 24 * 3600


def daily_trigger(config: Config) -> CronTrigger:
    hour, minute = config.reminder_hour_minute
    return CronTrigger(hour=hour, minute=minute, timezone=config.tz)


def due_today(config: Config, now: datetime) -> bool:
    """Whether today's reminder time (local) has already passed."""
    hour, minute = config.reminder_hour_minute
    local = now.astimezone(config.tz)
    return (local.hour, local.minute) >= (hour, minute)


class Jobs:
    """The jobs, as plain methods so tests can call them directly."""

    def __init__(
        self,
        config: Config,
        hub: Hub,
        sender: DigestSender,
        *,
        housekeeping: Callable[[], int] | None = None,
        wake_mailer: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.hub = hub
        self.sender = sender
        self._housekeeping = housekeeping
        self._wake_mailer = wake_mailer or (lambda: None)

    def digest(self) -> DigestReport:
        day = local_day(self.hub.now(), self.config.tz)
        report = self.sender.run(day)
        for entry in report.lines():
            log.info("digest %s", entry)
        self._wake_mailer()
        return report

    def make_up(self) -> DigestReport | None:
        """At start: today's digest if its time passed while the bot was down."""
        if due_today(self.config, self.hub.now()):
            return self.digest()
        return None

    def retry(self) -> None:
        day = local_day(self.hub.now(), self.config.tz)
        self.sender.retry_failed(day)
        self._wake_mailer()

    def tidy(self) -> int:
        removed = self.hub.purge_expired()
        removed += forget_bodies(self.hub.store, self.hub.now() - timedelta(days=1))
        if self._housekeeping is not None:
            removed += self._housekeeping()
        self.hub.forget_old_digests(local_day(self.hub.now(), self.config.tz) - timedelta(days=30))
        return removed


class Scheduler:
    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs
        self._make_up: threading.Thread | None = None
        self._scheduler = BackgroundScheduler(timezone=jobs.config.tz)
        options = {"coalesce": True, "max_instances": 1}
        self._scheduler.add_job(
            jobs.digest, daily_trigger(jobs.config), id="digest", misfire_grace_time=DAY, **options
        )
        self._scheduler.add_job(
            jobs.retry, "interval", minutes=15, id="retry", misfire_grace_time=3600, **options
        )
        self._scheduler.add_job(
            jobs.tidy, "interval", minutes=10, id="tidy", misfire_grace_time=3600, **options
        )

    def start(self) -> None:
        self._scheduler.start()
        # The make-up run has a thread of its own so start-up is not held up
        # by a slow platform; stop() waits for it.
        self._make_up = threading.Thread(target=self._run_make_up, name="make-up")
        self._make_up.start()

    def _run_make_up(self) -> None:
        try:
            self.jobs.make_up()
        except Exception:  # logged; the daily run tries again tomorrow
            log.exception("the make-up digest run failed")

    def stop(self) -> None:
        if self._make_up is not None:
            self._make_up.join(timeout=60)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def next_digest(self) -> datetime | None:
        job = self._scheduler.get_job("digest")
        return job.next_run_time if job else None
