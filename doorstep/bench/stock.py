"""The stock variant: the same services, handlers and database writes, but each event is published with
nameko's ``EventDispatcher`` right after the commit (the dual write nameko-examples does); no outbox rows are
written and no relay runs; each consumed event is handled by a worker and in a transaction of its own.

Its service processes run :func:`serve_stock` (see :data:`STOCK_CHILD`).
"""
from __future__ import annotations

import logging

STOCK_CHILD = (
    "import warnings; warnings.filterwarnings('ignore', message=r'(?s).*Eventlet is deprecated'); "
    "import eventlet; eventlet.monkey_patch(); "
    "import sys; from doorstep.bench.stock import serve_stock; serve_stock(sys.argv[1])"
)


def serve_stock(name: str) -> None:
    """`doorstep run <name>` with the stock service class (same logging, settings and shutdown)."""
    from nameko.containers import ServiceContainer

    from shared import logs
    from shared.config import load_settings
    from doorstep import runner

    settings = stock_settings(load_settings())
    logs.configure()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    container = ServiceContainer(stock_service_class(name), settings.nameko_config(name))
    container.start()
    print(f"{name} (stock dispatch) running on port {settings.port(name)}", flush=True)
    runner.run_forever([container])


def stock_settings(settings):
    """As nameko's ``event_handler`` delivers: one event per worker call (batch consumers get lists of one)."""
    return settings.replace(consumer_batch_size=1)


class _DispatchAfterCommit:
    """Unit-of-work mixin: events are not written to the outbox; after the commit each is dispatched.

    This is the dual write the outbox exists to avoid (a crash between the commit and the dispatch loses the
    event); it is here only as the baseline the outbox is measured against.
    """

    dispatch = None  # set per worker by the provider: nameko's EventDispatcher for this worker

    def __enter__(self):
        self._after_commit = []
        return super().__enter__()

    def emit(self, outgoing):
        from shared.events import new_event

        event = new_event(outgoing.type, street=self.street, subject=outgoing.subject, data=outgoing.data)
        self._after_commit.append(event)
        return event

    def commit(self) -> None:
        super().commit()
        events, self._after_commit = self._after_commit, []
        self.emitted.extend(events)
        for event in events:
            self.dispatch(event.routing_key, event.to_dict())

    def rollback(self) -> None:
        self._after_commit = []
        super().rollback()


def stock_service_class(name: str):
    """The service ``name`` with every unit-of-work provider replaced by one whose units dispatch after commit."""
    from nameko.events import EventDispatcher
    from nameko.extensions import SharedExtension

    from shared.unit_of_work import UnitOfWork
    from shared.service import UnitOfWorkProvider
    from doorstep import runner

    class _NoRelay(SharedExtension):
        """Stands in for the outbox relay: nothing is written to the outbox, so there is nothing to relay."""

        def wake(self, *_):
            pass

    class _DispatchingProvider:
        """Mixed into a unit-of-work provider: hands each unit the worker's EventDispatcher."""

        relay = _NoRelay()
        # As nameko's event_handler and http entrypoints: every event and every request in a transaction of its
        # own. Commit groups are part of the machinery measured against this baseline (shared.commit_groups).
        commit_groups = False

        def setup(self):
            super().setup()
            found = [d for d in self.container.dependencies if isinstance(d, EventDispatcher)]
            if len(found) != 1:
                raise RuntimeError("the stock service needs exactly one EventDispatcher dependency")
            self.dispatcher = found[0]

        def get_dependency(self, worker_ctx):
            provided = super().get_dependency(worker_ctx)
            dispatch = self.dispatcher.get_dependency(worker_ctx)
            if isinstance(provided, UnitOfWork):
                provided.dispatch = dispatch
                return provided

            def factory(*args, **kwargs):  # providers that hand out a factory of units (notify's sender)
                uow = provided(*args, **kwargs)
                uow.dispatch = dispatch
                return uow

            return factory

    base = runner.service_class(name)
    replaced = {}
    for attr in dir(base):
        provider = getattr(base, attr)
        if isinstance(provider, UnitOfWorkProvider):
            uow_class = provider.uow_class
            stock_uow = type(f"Stock{uow_class.__name__}", (_DispatchAfterCommit, uow_class), {})
            provider_class = type(f"Stock{type(provider).__name__}", (_DispatchingProvider, type(provider)), {})
            replaced[attr] = provider_class(stock_uow)
    if not replaced:
        raise RuntimeError(f"{base.__name__} has no unit-of-work provider to replace")
    return type(f"Stock{base.__name__}", (base,), {
        **replaced,
        "dispatch_event": EventDispatcher(),
        "__module__": __name__,
    })
