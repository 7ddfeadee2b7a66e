# Assemble the logger from its config: storage, recovery, CAN source, GPS, the pulse,
# analog and switch inputs, OBD-II, power, status LED and watchdog, each a service of
# the Logger's main loop.
from logger import config
from logger.app import Logger
from logger.record import EV_RECOVERED


def logger(cfg, hal, errors=()):
    wdt = hal.watchdog(cfg["power.wdt_ms"])
    feed = wdt.feed if wdt is not None else None

    from logger import recover
    from logger.segment import SegmentStore

    path = hal.mount_storage(cfg)
    store = SegmentStore(path)
    cut = recover.recover(store.path, feed, recover.tail_blocks(cfg["flush_ms"]))
    log = Logger(cfg, hal, errors, store)
    if cut:
        log.pending.append((EV_RECOVERED, cut))
    services = log.services
    if wdt is not None:
        from logger.power import WatchdogService

        services.append(WatchdogService(wdt))

    src = None
    if cfg["can.enabled"]:
        from logger import canbus

        src, events = canbus.open_source(cfg, hal, log.ring, feed)
        log.pending.extend(events)
        if src is not None:
            services.append(canbus.CanService(src))
            if hal.streams_end:
                log.streams.append(src)

    gps = None
    if cfg["gps.enabled"]:
        uart = hal.open_gps(cfg)
        if uart is not None:
            from logger.gps import GpsService

            gps = GpsService(uart, cfg["gps.rate_hz"], cfg["gps.fix_lost_s"])
            services.append(gps)
            if hal.streams_end:
                log.streams.append(uart)

    for key in config.PINS:
        if cfg.get(key):  # any input wired: the inputs code is loaded only then
            import sys

            from logger import boards
            from logger.inputs import InputService

            board = boards.board(cfg["board"], getattr(sys.implementation, "_machine", ""))
            # the HAL's inputs part, <hal>_inputs, so that a car without inputs does
            # not hold its code: hal_board_inputs, hal_unix_inputs
            hw = __import__(hal.__name__ + "_inputs", None, None, ("inputs",)).inputs(cfg)
            inp = InputService(cfg, hw, board["ignition"])
            services.append(inp)
            if hal.streams_end and not hw.eof:
                log.streams.append(inp)
            break

    if cfg["obd.enabled"] and src is not None and config.can_mode(cfg) == "normal":
        from logger.obd import ObdPoller

        services.append(ObdPoller(src, log.ring, cfg["obd.pids"], cfg["obd.interval_ms"]))

    sense = hal.ignition(cfg)
    if sense is not None:
        from logger.power import PowerService

        services.append(PowerService(sense, cfg["power.ignition_mv"], cfg["power.idle_s"]))

    leds = hal.leds(cfg)
    if leds:
        from logger.power import StatusService

        services.append(StatusService(leds, gps))

    if cfg["usb.enabled"]:
        from logger.syncdev import service as sync_service

        sync = sync_service(log)
        if sync is not None:
            services.append(sync)
    return log
