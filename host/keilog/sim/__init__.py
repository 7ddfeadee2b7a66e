"""The virtual kei car: a simulated kei truck drives a scenario's route.

It puts the car's broadcast frames (encoded by cantools from ``dbc/keicar.dbc``) on a
python-can bus at each message's cycle time, answers OBD-II service 01 requests from
``dbc/obd2.dbc``, and writes NMEA 0183 sentences with realistic GPS noise.

Entry points:

- :func:`keilog.sim.scenario.load` / :func:`keilog.sim.scenario.builtin`: read a scenario.
- :func:`keilog.sim.run.simulate`: a pure generator of timestamped CAN frames and NMEA
  sentences in time order (no real time, no I/O).
- :func:`keilog.sim.run.generate`: the same events, paced in real time (or faster).
- :func:`keilog.sim.run.run`: drive a python-can bus, an NMEA port/file and the
  firmware's 16-byte stream, as ``keilog simulate`` does.
"""
