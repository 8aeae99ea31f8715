"""District fan-in: two streets' events reach the district broker through shovels, with the street in each
envelope, and a district subscriber binds exactly as it would on one street."""
import json
import subprocess
import uuid
from urllib.parse import quote

import kombu

from support.processes import DOORSTEP
from shared.broker import ConfirmingPublisher
from shared.db import engine_for
from shared.outbox import Relay
from support.broker import rabbitmqctl
from support.events import accepted_events_in_outbox
from support.waiting import wait_for



def test_two_streets_fan_in_to_the_district(rabbit_reachable, infra_settings):
    subprocess.run(["rabbitmq-plugins", "enable", "--online", "rabbitmq_shovel"], capture_output=True, check=True,
                   timeout=120)
    base = rabbit_reachable.rstrip("/")
    vhosts = {name: f"doorstep-{name}-{uuid.uuid4().hex[:6]}" for name in ("lujiazui", "huamu", "district")}
    for vhost in vhosts.values():
        rabbitmqctl("add_vhost", vhost)
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    uri = {name: f"{base}/{quote(vhost, safe='')}" for name, vhost in vhosts.items()}
    try:
        # The district platform's own queue on the district broker, bound like on any street.
        with kombu.Connection(uri["district"]) as conn:
            channel = conn.channel()
            platform = kombu.Queue("platform", durable=True, channel=channel)
            platform.declare()
            for service in ("intake", "routing", "funds", "notify"):
                exchange = kombu.Exchange(f"{service}.events", "topic", durable=True, channel=channel)
                exchange.declare()
                platform.bind_to(exchange, routing_key="case.#")

        for street in ("lujiazui", "huamu"):
            result = subprocess.run([DOORSTEP, "district", "fan-in", "--street", street, "--broker", uri[street],
                                     "--district", uri["district"], "--apply"], capture_output=True, text=True,
                                    timeout=120)
            assert result.returncode == 0, result.stderr

        # Each street publishes through its own relay.
        for street in ("lujiazui", "huamu"):
            settings = infra_settings.replace(street=street)
            accepted_events_in_outbox(settings, count=2)
            Relay("intake", engine_for(settings.db_url("intake")), ConfirmingPublisher(uri[street])).drain()
            # the next street's events come from the same test database: clear what was relayed
            with engine_for(settings.db_url("intake")).begin() as conn:
                conn.exec_driver_sql("DELETE FROM outbox")

        def arrived():
            got = []
            with kombu.Connection(uri["district"]) as conn:
                queue = kombu.Queue("platform", channel=conn.channel())
                while (message := queue.get(no_ack=True)) is not None:
                    got.append(json.loads(message.body))
            arrived.seen.extend(got)
            return len(arrived.seen) >= 4
        arrived.seen = []
        wait_for(arrived, timeout=60, interval=0.5, message="events at the district")
        streets = sorted(envelope["street"] for envelope in arrived.seen)
        assert streets == ["huamu", "huamu", "lujiazui", "lujiazui"]
        assert {envelope["type"] for envelope in arrived.seen} == {"doorstep.intake.case.accepted.v1"}
    finally:
        for vhost in vhosts.values():
            rabbitmqctl("delete_vhost", vhost, check=False)
