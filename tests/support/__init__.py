"""What the tests share besides their fixtures (those stay in tests/conftest.py):

- ``http``: calling a running service as a station's counter does;
- ``waiting``: waiting for exactly the eventual effect a test then asserts;
- ``clock``: clocks a test controls, for code that takes ``now=`` or a clock;
- ``events``: event data and events committed to an outbox as a service commits them;
- ``broker``: publishing to and draining RabbitMQ, and ``rabbitmqctl``;
- ``doubles``: stand-ins for services, with handlers that fail on purpose;
- ``processes``: stopping the service processes a test started;
- ``notify``, ``funds``, ``k8s``: what the tests of notify, of funds and of the manifests share.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout
