# Start the logger: pick this port's hardware layer, read the config, build the logger
# (build.py), drop the modules only starting needed, run until it stops, and say what
# it logged. firmware/main.py calls main().
#
# What only starting needs (the config schema, the builder, recovery of a cut
# segment, the board table, the filesystem mounter) is imported, used once and then
# dropped from sys.modules, so that its code leaves the heap before the logger runs:
# about 15 KB of a Pyboard's 100 KB. A module that needs one of them later (the sync
# service validating an uploaded config) imports it again for that moment.
import gc
import sys

_BOOT_ONLY = ("build", "config", "recover", "boards", "storage")


def hal():
    if sys.platform in ("linux", "darwin", "freebsd"):
        from logger import hal_unix

        return hal_unix
    from logger import hal_board

    return hal_board


# Drop the boot-only modules (from sys.modules and the logger package), then collect.
def unload():
    import logger

    for name in _BOOT_ONLY:
        if sys.modules.pop("logger." + name, None) is not None and hasattr(logger, name):
            delattr(logger, name)
    gc.collect()


# The logger for this port's config, built and ready to run(). hw: the HAL module
# (this port's by default).
def start(hw=None):
    from logger import build, config

    hw = hw or hal()
    cfg, errors = config.load(hw.config_path())
    for e in errors:
        hw.log("config error: " + e + " (using safe defaults for it)")
    log = build.logger(cfg, hw, errors)
    build = config = None
    unload()
    return log


def main():
    log = start()
    log.run()
    log.hal.log(
        "logged %d frames into %d segment(s), %d bytes, %d dropped, %d not logged, "
        "flush max %d ms"
        % (
            log.frames,
            log.segments,
            log.store.bytes_written,
            log.ring.dropped,
            log.not_logged,
            (log.flush_max_all + 999) // 1000,
        )
    )
