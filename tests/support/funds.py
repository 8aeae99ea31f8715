"""Driving funds' handlers directly, many at once, as concurrent requests would."""
import eventlet
from sqlalchemy.orm import sessionmaker

from shared.db import engine_for
from services.funds.repositories import FundsUnitOfWork


def uow_for(url):
    return FundsUnitOfWork(sessionmaker(engine_for(url), expire_on_commit=False), "lujiazui")


def run_parallel(calls):
    """Run the calls on green threads at once; returns (results or exceptions, peak number in flight)."""
    in_flight, peak = [0], [0]

    def attempt(call):
        in_flight[0] += 1
        peak[0] = max(peak[0], in_flight[0])
        try:
            return call()
        except Exception as exc:  # the outcome under test, collected
            return exc
        finally:
            in_flight[0] -= 1

    return list(eventlet.GreenPool(len(calls)).imap(attempt, calls)), peak[0]
