"""The ``doorstep`` command and what operators run beside the services: the runner, event and dead-letter
tools, the district fan-in, the street generator and the benchmarks. The services themselves live in
:mod:`services`; what they share, in :mod:`shared`."""
